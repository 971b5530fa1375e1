package ident

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/lab/fake"
)

func TestPhone(t *testing.T) {
	for _, tc := range []struct {
		region, in, want string // want "" means invalid
	}{
		// China: mobile and fixed line, national and international forms.
		{"CN", "13812345678", "+8613812345678"},
		{"CN", "138 1234 5678", "+8613812345678"},
		{"CN", "138-1234-5678", "+8613812345678"},
		{"CN", "+86 138 1234 5678", "+8613812345678"},
		{"CN", "+86-138-1234-5678", "+8613812345678"},
		{"CN", "0086 13812345678", "+8613812345678"},
		{"CN", "8613812345678", "+8613812345678"},
		{"CN", "(+86) 13812345678", "+8613812345678"},
		{"CN", "１３８１２３４５６７８", "+8613812345678"},
		{"US", "+8613812345678", "+8613812345678"},
		{"CN", "010 1234 5678", "+861012345678"},
		{"CN", "+86 10 1234 5678", "+861012345678"},
		{"CN", "021-6123 4567", "+862161234567"},
		{"CN", "1381234567", ""},  // ten digits
		{"CN", "12012345678", ""}, // no such mobile block
		{"CN", "17461234567", ""}, // 1746 is not allocated
		{"CN", "17405123456", "+8617405123456"},
		// United States and Canada.
		{"US", "(201) 555-0123", "+12015550123"},
		{"US", "201.555.0123", "+12015550123"},
		{"US", "1 201 555 0123", "+12015550123"},
		{"CN", "+1 201-555-0123", "+12015550123"},
		{"US", "555-0123", ""},
		// United Kingdom.
		{"GB", "07400 123456", "+447400123456"},
		{"GB", "020 7946 0958", "+442079460958"},
		{"CN", "+44 7400 123456", "+447400123456"},
		{"CN", "0044 7400 123456", "+447400123456"},
		// Germany.
		{"DE", "01512 3456789", "+4915123456789"},
		{"DE", "030 123456", "+4930123456"},
		{"CN", "+49 1512 3456789", "+4915123456789"},
		// India.
		{"IN", "081234 56789", "+918123456789"},
		{"IN", "81234 56789", "+918123456789"},
		{"CN", "+91 81234 56789", "+918123456789"},
		// Brazil.
		{"BR", "(11) 96123-4567", "+5511961234567"},
		{"CN", "+55 11 96123 4567", "+5511961234567"},
		// Japan.
		{"JP", "090-1234-5678", "+819012345678"},
		{"JP", "03-1234-5678", "+81312345678"},
		{"CN", "+81 90 1234 5678", "+819012345678"},
		// France, Russia, Hong Kong, Taiwan.
		{"FR", "06 12 34 56 78", "+33612345678"},
		{"RU", "8 (912) 345-67-89", "+79123456789"},
		{"HK", "5123 4567", "+85251234567"},
		{"TW", "0912 345 678", "+886912345678"},
		// Not numbers.
		{"CN", "", ""},
		{"CN", "abc", ""},
		{"CN", "12345", ""},
		{"CN", "+999 1234 5678", ""},
	} {
		t.Run(tc.region+"/"+tc.in, func(t *testing.T) {
			n, err := NewNormalizer(tc.region)
			if err != nil {
				t.Fatal(err)
			}
			got, err := n.Phone(tc.in)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Errorf("Phone(%q) = %q, %v; want an ErrInvalid", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Phone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestChineseMobileFastPathAgreesWithLibrary checks the block cache against
// libphonenumber on every 5-digit block 1300–1999, with random subscribers
// that vary the digits after the block.
func TestChineseMobileFastPathAgreesWithLibrary(t *testing.T) {
	fast, _ := NewNormalizer("CN")
	slow, _ := NewNormalizer("CN")
	r := rand.New(rand.NewPCG(1, 2))
	for block := 3000; block < 10000; block++ {
		for range 2 {
			s := fmt.Sprintf("1%04d%06d", block, r.IntN(1000000))
			got, gotErr := fast.Phone(s)
			want, wantErr := slow.library(s)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%s: fast path %q, %v; library %q, %v", s, got, gotErr, want, wantErr)
			}
		}
	}
}

func TestFakeMobilesAreValid(t *testing.T) {
	n, _ := NewNormalizer("CN")
	g := fake.New(7)
	for i := 1; i <= 2000; i++ {
		p := g.Person(i)
		got, err := n.Phone(p.Mobile)
		if err != nil || got != p.MobileE164() {
			t.Fatalf("person %d: Phone(%q) = %q, %v; want %q", i, p.Mobile, got, err, p.MobileE164())
		}
		id, err := n.IDNumber(p.IDNumber)
		if err != nil || id != p.IDNumber {
			t.Fatalf("person %d: IDNumber(%q) = %q, %v", i, p.IDNumber, id, err)
		}
	}
}

func TestUnknownRegion(t *testing.T) {
	for _, r := range []string{"", "XX", "China", "86"} {
		if _, err := NewNormalizer(r); err == nil {
			t.Errorf("NewNormalizer(%q) accepted", r)
		}
	}
}

func TestIDNumber(t *testing.T) {
	n, _ := NewNormalizer("CN")
	n.now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		in, want string
	}{
		{"11010519491231002X", "11010519491231002X"},
		{"11010519491231002x", "11010519491231002X"},
		{" 110105194912310021 ", ""}, // wrong check digit
		{"440524188001010014", ""},   // born 1880, before 1900
		{"310101199001011234", "310101199001011234"},
		{"310101199001011235", ""},  // wrong check digit
		{"31010119900101123", ""},   // 17 characters
		{"3101011990010112345", ""}, // 19 characters
		{"31010119900230123X", ""},  // 30 February
		{"99010119900101123X", ""},  // no province 99
		{"31010118990101123X", ""},  // born before 1900
		{"310101203001011231", ""},  // born after today
		{"3101011990010112XX", ""},  // X before the last place
		{"31010119900101123Y", ""},  // not a check character
		{"３１０１０１１９９００１０１１２３Ｘ", ""},  // full-width digits
	} {
		got, err := n.IDNumber(tc.in)
		switch {
		case tc.want == "" && (err == nil || !errors.Is(err, ErrInvalid)):
			t.Errorf("IDNumber(%q) = %q, %v; want an ErrInvalid", tc.in, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("IDNumber(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestIDCheckDigit flips every check character of valid numbers: exactly one
// of the eleven is accepted.
func TestIDCheckDigit(t *testing.T) {
	n, _ := NewNormalizer("CN")
	g := fake.New(3)
	for i := 1; i <= 200; i++ {
		id := g.Person(i).IDNumber
		ok := 0
		for _, c := range "0123456789X" {
			if _, err := n.IDNumber(id[:17] + string(c)); err == nil {
				ok++
				if byte(c) != id[17] {
					t.Errorf("%s accepted with check character %c", id, c)
				}
			}
		}
		if ok != 1 {
			t.Errorf("%s: %d check characters accepted, want 1", id, ok)
		}
	}
}

func TestEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"zhang@example.com", "zhang@example.com"},
		{"  Zhang.Wei@Example.COM ", "zhang.wei@example.com"},
		{"wang+leak@mail.example.cn", "wang+leak@mail.example.cn"},
		{"李@例子.中国", "李@例子.中国"},
		{"zhang@example", ""},
		{"@example.com", ""},
		{"zhang@", ""},
		{"zhang wei@example.com", ""},
		{"zhang@@example.com", ""},
		{"zhang@example..com", ""},
		{"zhang\x00@example.com", ""},
		{"zh\xffang@example.com", ""},
	} {
		got, err := Email(tc.in)
		switch {
		case tc.want == "" && (err == nil || !errors.Is(err, ErrInvalid)):
			t.Errorf("Email(%q) = %q, %v; want an ErrInvalid", tc.in, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("Email(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want breach.Kind
		ok   bool
	}{
		{"13812345678", breach.KindPhone, true},
		{"+86 138 1234 5678", breach.KindPhone, true},
		{"(201) 555-0123", breach.KindPhone, true},
		{"zhang@example.com", breach.KindEmail, true},
		{"11010519491231002X", breach.KindID, true},
		{"110105194912310021", breach.KindID, true},
		{"110105 19491231 002x", breach.KindID, true},
		{"hello", "", false},
		{"123", breach.KindPhone, false},
	} {
		got, ok := Detect(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Detect(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func BenchmarkPhoneFastPath(b *testing.B) {
	n, _ := NewNormalizer("CN")
	g := fake.New(1)
	ps := make([]string, 1024)
	for i := range ps {
		ps[i] = g.Person(i + 1).Mobile
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := n.Phone(ps[i%len(ps)]); err != nil {
			b.Fatal(err)
		}
	}
}
