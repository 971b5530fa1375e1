package fake

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var (
	mobileRE  = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	caseNoRE  = regexp.MustCompile(`^A[0-9]{6}20(1[5-9]|2[0-3])(0[1-9]|1[0-2])[0-9]{5}$`)
	amountRE  = regexp.MustCompile(`^[1-9][0-9]*\.[0-9]{2}$`)
	orderNoRE = regexp.MustCompile(`^20(2[1-3])[0-9]{15}$`)
	addressRE = regexp.MustCompile(`^\p{Han}+[0-9]+号[0-9]+栋[1-4]单元[0-9]{3,4}室$`)
)

// A seed must give the same records with every Go release and on every
// machine: lab servers, emulators and tests agree through it.
func TestPinned(t *testing.T) {
	g := New(20221125)
	p := g.Person(1)
	if p.Name != "金雅月" || p.Mobile != "15060370029" || p.IDNumber != "320102198811141149" ||
		p.Address != "江苏省南京市玄武区学府路460号15栋3单元805室" {
		t.Errorf("Person(1) = %+v, changed", p)
	}
	if o := g.Order(500); o.OrderNo != "2022110701272393135" || o.Customer != "于芳" || o.AmountYuan() != "275.48" {
		t.Errorf("Order(500) = %+v, changed", o)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := New(7), New(7)
	for _, i := range []int{1, 2, 1000, 3000} {
		if a.Person(i) != b.Person(i) {
			t.Errorf("Person(%d) differs between two generators of one seed", i)
		}
		if a.Case(i, 3000) != b.Case(i, 3000) {
			t.Errorf("Case(%d) differs between two generators of one seed", i)
		}
		if a.Order(i) != b.Order(i) {
			t.Errorf("Order(%d) differs between two generators of one seed", i)
		}
	}
	if New(7).Person(1) == New(8).Person(1) {
		t.Error("seeds 7 and 8 give the same person 1")
	}
	if a.Person(1).IDNumber == a.Person(2).IDNumber {
		t.Error("persons 1 and 2 share an ID number")
	}
}

func TestPerson(t *testing.T) {
	g := New(1)
	ids := make(map[string]int)
	for i := 1; i <= 3000; i++ {
		p := g.Person(i)
		if p.Index != i {
			t.Fatalf("Person(%d).Index = %d", i, p.Index)
		}
		if n := utf8.RuneCountInString(p.Name); n < 2 || n > 3 {
			t.Errorf("person %d: name %q has %d characters, want 2 or 3", i, p.Name, n)
		}
		for _, r := range p.Name {
			if !unicode.Is(unicode.Han, r) {
				t.Errorf("person %d: name %q has a non-Han character %q", i, p.Name, r)
			}
		}
		if !mobileRE.MatchString(p.Mobile) {
			t.Errorf("person %d: mobile %q", i, p.Mobile)
		}
		if p.MobileE164() != "+86"+p.Mobile {
			t.Errorf("person %d: E.164 %q", i, p.MobileE164())
		}
		if !ValidIDNumber(p.IDNumber) {
			t.Errorf("person %d: invalid ID number %q", i, p.IDNumber)
		}
		if !strings.HasPrefix(p.IDNumber, p.Region.Code) {
			t.Errorf("person %d: ID number %q does not start with region %s", i, p.IDNumber, p.Region.Code)
		}
		if got := p.IDNumber[6:14]; got != p.BirthDate.Format("20060102") {
			t.Errorf("person %d: ID number birth date %s, BirthDate %s", i, got, p.BirthDate.Format(time.DateOnly))
		}
		if y := p.BirthDate.Year(); y < 1950 || y > 2005 {
			t.Errorf("person %d: born in %d", i, y)
		}
		if odd := (p.IDNumber[16]-'0')%2 == 1; odd != (p.Gender == Male) {
			t.Errorf("person %d: ID number %q disagrees with gender %s", i, p.IDNumber, p.Gender)
		}
		if !strings.HasPrefix(p.Address, p.Region.Name()) || !addressRE.MatchString(p.Address) {
			t.Errorf("person %d: address %q", i, p.Address)
		}
		if j, ok := ids[p.IDNumber]; ok {
			t.Errorf("persons %d and %d share ID number %s", j, i, p.IDNumber)
		}
		ids[p.IDNumber] = i
	}
}

func TestRegions(t *testing.T) {
	for _, r := range regions {
		if len(r.Code) != 6 || strings.Trim(r.Code, "0123456789") != "" {
			t.Errorf("region %s: code %q is not six digits", r.Name(), r.Code)
		}
		// The province part of the code matches the province name for the
		// four municipalities (11 Beijing, 12 Tianjin, 31 Shanghai, 50 Chongqing).
		if r.City == "" {
			want := map[string]string{"北京市": "11", "天津市": "12", "上海市": "31", "重庆市": "50"}[r.Province]
			if r.Code[:2] != want {
				t.Errorf("municipality %s: code %s, want prefix %q", r.Province, r.Code, want)
			}
		}
	}
}

func TestCase(t *testing.T) {
	g := New(1)
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, china)
	end := time.Date(2024, 1, 1, 0, 0, 0, 0, china)
	for i := 1; i <= 1200; i++ {
		c := g.Case(i, 3000)
		if c.Index != i || c.PersonIndex < 1 || c.PersonIndex > 3000 {
			t.Fatalf("Case(%d) = index %d, person %d", i, c.Index, c.PersonIndex)
		}
		if !caseNoRE.MatchString(c.CaseNo) {
			t.Errorf("case %d: case number %q", i, c.CaseNo)
		}
		if want := "A" + g.Person(c.PersonIndex).Region.Code + c.FiledAt.Format("200601"); !strings.HasPrefix(c.CaseNo, want) {
			t.Errorf("case %d: case number %q, want prefix %s", i, c.CaseNo, want)
		}
		if !strings.HasPrefix(c.Offence, c.Charge+"：") || strings.Contains(c.Offence, "%") {
			t.Errorf("case %d: offence %q, charge %q", i, c.Offence, c.Charge)
		}
		if c.FiledAt.Before(start) || !c.FiledAt.Before(end) {
			t.Errorf("case %d: filed at %v", i, c.FiledAt)
		}
	}
}

func TestOrder(t *testing.T) {
	g := New(1)
	for i := 1; i <= 800; i++ {
		o := g.Order(i)
		if o.Index != i || o.Amount <= 0 {
			t.Fatalf("Order(%d) = index %d, amount %d", i, o.Index, o.Amount)
		}
		if !amountRE.MatchString(o.AmountYuan()) {
			t.Errorf("order %d: amount %q", i, o.AmountYuan())
		}
		if !orderNoRE.MatchString(o.OrderNo) || !strings.HasPrefix(o.OrderNo, o.CreatedAt.Format("20060102150405")) {
			t.Errorf("order %d: order number %q, created %v", i, o.OrderNo, o.CreatedAt)
		}
		if !mobileRE.MatchString(o.Mobile) || !addressRE.MatchString(o.Address) || o.Customer == "" {
			t.Errorf("order %d: buyer %q %q %q", i, o.Customer, o.Mobile, o.Address)
		}
	}
}

func TestAmountYuan(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{990, "9.90"},
		{1005, "10.05"},
		{49900, "499.00"},
		{123456, "1234.56"},
	}
	for _, tt := range tests {
		if got := (Order{Amount: tt.fen}).AmountYuan(); got != tt.want {
			t.Errorf("AmountYuan(%d fen) = %q, want %q", tt.fen, got, tt.want)
		}
	}
}

func TestGenderString(t *testing.T) {
	if Male.String() != "male" || Female.String() != "female" {
		t.Errorf("genders print as %q and %q", Male, Female)
	}
}
