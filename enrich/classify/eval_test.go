package classify

import (
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/lab/fake"
)

var update = flag.Bool("update", false, "rewrite testdata/precision.golden and the table in docs/classify.md")

// item is one labelled value: the field it sits in, the value, and the
// classes it holds (none for a hard negative).
type item struct {
	field, value string
	want         []string
	named        bool // the field name is one a real schema would use
}

// labelled builds the evaluation set: values from lab/fake and from the
// published formats of cards, IBANs, keys and hashes, under the field names
// real schemas use and under neutral ones, and hard negatives (random
// digits, timestamps, order numbers, UUIDs, versions…). It is the same on
// every run.
func labelled() []item {
	r := rand.New(rand.NewPCG(20221125, 5))
	g := fake.New(97)
	var items []item
	pos := func(class string, fields []string, value string) {
		f := fields[r.IntN(len(fields))]
		items = append(items, item{field: f, value: value, want: []string{class}, named: true})
	}
	neutral := []string{"value", "c1", "data", "col_3", "field"}
	free := func(class string, value string) {
		items = append(items, item{field: neutral[r.IntN(len(neutral))], value: value, want: []string{class}})
	}
	neg := func(fields []string, value string) {
		f := fields[r.IntN(len(fields))]
		items = append(items, item{field: f, value: value, named: !slices.Contains(neutral, f)})
	}

	for i := 1; i <= 600; i++ {
		p := g.Person(i)
		pos(PersonName, []string{"name", "姓名", "xm", "real_name", "customer", "full_name", "联系人"}, p.Name)
		mobile := p.Mobile
		switch i % 5 {
		case 0:
			mobile = p.MobileE164()
		case 1:
			mobile = p.Mobile[:3] + " " + p.Mobile[3:7] + " " + p.Mobile[7:]
		}
		pos(Phone, []string{"mobile", "phone", "手机号", "sjhm", "lxdh", "tel", "contact_phone", "电话"}, mobile)
		pos(CNResidentID, []string{"id_number", "sfzh", "身份证号", "idcard", "id_no", "gmsfhm"}, p.IDNumber)
		pos(Address, []string{"address", "地址", "住址", "dz", "home_address", "jzdz"}, p.Address)
		if i%3 == 0 {
			free(Phone, p.MobileE164())
			free(CNResidentID, p.IDNumber)
			free(Address, p.Address)
			free(PersonName, p.Name)
		}
	}
	for i := 1; i <= 300; i++ {
		c := g.Case(i, 600)
		pos(CriminalRecord, []string{"case_no", "ajbh", "案件编号"}, c.CaseNo)
		pos(CriminalRecord, []string{"offence", "罪名", "crime", "案由"}, c.Offence)
		if i%3 == 0 {
			free(CriminalRecord, c.Offence)
		}
	}
	locals := []string{"zhangwei", "li.na", "wang_fang", "chen88", "liu.yang", "j.smith", "maria"}
	domains := []string{"example.com", "mail.example.cn", "example.org", "qq.example.net"}
	for i := range 300 {
		e := fmt.Sprintf("%s%d@%s", locals[r.IntN(len(locals))], r.IntN(1000), domains[r.IntN(len(domains))])
		pos(Email, []string{"email", "邮箱", "mail", "email_address"}, e)
		if i%3 == 0 {
			free(Email, e)
		}
	}
	diagnoses := []string{"高血压二级", "2型糖尿病", "慢性乙型肝炎", "抑郁发作", "急性阑尾炎术后", "Hypertension, stage 2",
		"Type 2 diabetes mellitus", "Allergic rhinitis", "青霉素过敏", "支气管哮喘"}
	for i := range 200 {
		d := diagnoses[r.IntN(len(diagnoses))]
		pos(MedicalRecord, []string{"diagnosis", "诊断", "病史", "disease", "过敏史"}, d)
		if i%2 == 0 {
			free(MedicalRecord, d)
		}
	}
	for i := range 300 {
		n := card(r)
		if i%2 == 0 {
			n = n[:4] + " " + n[4:8] + " " + n[8:12] + " " + n[12:]
		}
		pos(PaymentCard, []string{"card_no", "银行卡号", "credit_card", "bank_card", "yhkh"}, n)
		if i%3 == 0 && strings.Contains(n, " ") {
			free(PaymentCard, n)
		}
	}
	for i := range 200 {
		v := iban(r)
		pos(IBAN, []string{"iban", "IBAN"}, v)
		if i%2 == 0 {
			free(IBAN, v)
		}
	}
	for range 150 {
		pos(Passport, []string{"passport", "护照号", "passport_no"}, fmt.Sprintf("E%08d", r.IntN(1e8)))
	}
	for range 150 {
		pos(NationalID, []string{"ssn", "national_id"}, fmt.Sprintf("%03d-%02d-%04d", 1+r.IntN(664), 1+r.IntN(98), 1+r.IntN(9998)))
	}
	for i := range 300 {
		h := hash(r, i)
		pos(Credential, []string{"password", "passwd", "pwd", "密码", "password_hash"}, h)
		free(Credential, h)
	}
	for range 100 {
		pos(Credential, []string{"dsn", "database_url", "conn"}, fmt.Sprintf("mysql://app:%s@db%d.internal:3306/shop", token(r, 12), r.IntN(9)))
	}
	for i := range 300 {
		s := secret(r, i)
		pos(SecretKey, []string{"aws_key", "config", "token", "access_key"}, s)
		free(SecretKey, s)
	}
	for i := range 200 {
		ip := fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
		if i%4 == 0 {
			ip = fmt.Sprintf("2001:db8:%x::%x", r.IntN(65536), 1+r.IntN(65535))
		}
		pos(IPAddress, []string{"ip", "client_ip", "remote_addr", "login_ip"}, ip)
		free(IPAddress, ip)
	}
	for range 200 {
		lat, lon := -60+r.Float64()*120, -170+r.Float64()*340
		pos(GeoLocation, []string{"location", "gps", "coordinates"}, fmt.Sprintf("%.6f,%.6f", lat, lon))
		pos(GeoLocation, []string{"lat", "latitude"}, fmt.Sprintf("%.6f", lat))
	}

	// Hard negatives.
	for range 1500 {
		n := 5 + r.IntN(16)
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		neg([]string{"value", "n", "code", "data", "col3"}, b.String())
	}
	for range 400 {
		ts := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(11 * 365 * 24 * time.Hour))))
		v := strconv.FormatInt(ts.Unix(), 10)
		if r.IntN(2) == 0 {
			v = strconv.FormatInt(ts.UnixMilli(), 10)
		}
		neg([]string{"ts", "created_at", "time", "value", "updated"}, v)
	}
	for i := 1; i <= 400; i++ {
		neg([]string{"order_no", "trade_no", "value", "orderId"}, g.Order(i).OrderNo)
	}
	for range 300 {
		neg([]string{"id", "uuid", "request_id", "value"}, fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
			r.Uint32(), r.IntN(65536), r.IntN(4096), 0x8000|r.IntN(0x4000), r.Int64N(1<<48)))
	}
	for range 300 {
		v := fmt.Sprintf("%d.%d.%d", r.IntN(20), r.IntN(30), r.IntN(100))
		switch r.IntN(3) {
		case 0:
			v = fmt.Sprintf("%d.%d.%d.%d", r.IntN(20), r.IntN(30), r.IntN(100), r.IntN(5000))
		case 1:
			v = "v" + v
		}
		neg([]string{"version", "ver", "build", "value"}, v)
	}
	for range 200 {
		neg([]string{"amount", "price", "total"}, fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100)))
	}
	products := []string{"安全帽", "iPhone 14 Pro", "白色T恤", "Widget", "无线鼠标", "有机绿茶", "Standard plan",
		"高级会员", "黄金套餐", "蓝牙耳机", "Office chair", "USB-C cable"}
	for range 200 {
		neg([]string{"name", "product_name", "title", "item"}, products[r.IntN(len(products))])
	}
	words := []string{"已完成", "处理中", "待付款", "active", "disabled", "Lorem ipsum dolor sit amet",
		"系统维护通知", "默认分组", "hello world", "200030", "2021-06-01", "N/A"}
	for range 300 {
		neg([]string{"status", "description", "remark", "zip", "birth_date", "group"}, words[r.IntN(len(words))])
	}
	for range 200 {
		var b strings.Builder
		for range 64 {
			b.WriteByte("0123456789abcdef"[r.IntN(16)])
		}
		neg([]string{"sha256", "etag", "checksum", "commit"}, b.String())
	}
	return items
}

// card returns a valid card number of a major network.
func card(r *rand.Rand) string {
	prefixes := []string{"4", "51", "55", "2221", "62", "6011", "35"}
	p := prefixes[r.IntN(len(prefixes))]
	if p == "35" {
		p = "3530"
	}
	var b strings.Builder
	b.WriteString(p)
	for b.Len() < 15 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	s := b.String()
	for d := byte('0'); d <= '9'; d++ {
		if luhn(s + string(d)) {
			return s + string(d)
		}
	}
	panic("no check digit")
}

// iban returns a valid IBAN of a few countries.
func iban(r *rand.Rand) string {
	countries := []string{"DE", "GB", "FR", "NL", "ES", "IT"}
	c := countries[r.IntN(len(countries))]
	n := ibanLengths[c]
	var b strings.Builder
	for b.Len() < n-4 {
		if c == "GB" && b.Len() < 4 || c == "NL" && b.Len() < 4 {
			b.WriteByte(byte('A' + r.IntN(26)))
			continue
		}
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	for ck := 2; ck <= 98; ck++ {
		v := fmt.Sprintf("%s%02d%s", c, ck, b.String())
		if validIBAN(v) {
			return v
		}
	}
	panic("no check digits")
}

const b64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func token(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(b64[2+r.IntN(len(b64)-2)])
	}
	return b.String()
}

func crypt(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(b64[r.IntN(len(b64))])
	}
	return b.String()
}

// hash returns a password hash in one of the formats servers store.
func hash(r *rand.Rand, i int) string {
	switch i % 4 {
	case 0:
		return "$2b$" + fmt.Sprintf("%02d", 10+r.IntN(4)) + "$" + crypt(r, 53)
	case 1:
		return "$6$" + token(r, 16) + "$" + crypt(r, 86)
	case 2:
		return "$argon2id$v=19$m=65536,t=3,p=4$" + token(r, 22) + "$" + token(r, 43)
	}
	return "pbkdf2_sha256$600000$" + token(r, 22) + "$" + token(r, 43) + "="
}

// secret returns an access key, a JWT or a private key header.
func secret(r *rand.Rand, i int) string {
	const base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	switch i % 3 {
	case 0:
		var b strings.Builder
		b.WriteString("AKIA")
		for range 16 {
			b.WriteByte(base32[r.IntN(32)])
		}
		return b.String()
	case 1:
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
			enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%d","iat":%d}`, r.IntN(1e6), 1.7e9+r.IntN(1e7)))) + "." + token(r, 43)
	}
	return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + token(r, 64)
}

// score is the confusion counts of one class.
type score struct{ tp, fp, fn int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// evaluate classifies the items and counts, per class, true positives,
// false positives and misses.
func evaluate(items []item) map[string]*score {
	scores := map[string]*score{}
	for _, c := range Classes() {
		scores[c] = &score{}
	}
	for _, it := range items {
		got := Classify(it.field, it.value)
		for _, c := range Classes() {
			_, predicted := got[c]
			expected := slices.Contains(it.want, c)
			switch {
			case predicted && expected:
				scores[c].tp++
			case predicted:
				scores[c].fp++
			case expected:
				scores[c].fn++
			}
		}
	}
	return scores
}

// floor is the precision and recall no class may fall below on values
// under the field names real schemas use.
const floor = 0.95

// TestPrecisionRecall measures the classifiers on the labelled set, checks
// the floor, and keeps the table in docs/classify.md in step.
func TestPrecisionRecall(t *testing.T) {
	items := labelled()
	var named, free []item
	negatives := 0
	for _, it := range items {
		if len(it.want) == 0 {
			negatives++
		}
		if it.named {
			named = append(named, it)
		} else {
			free = append(free, it)
		}
	}
	sn, sf := evaluate(named), evaluate(free)

	var b strings.Builder
	fmt.Fprintf(&b, "Labelled set: %d values (%d hard negatives), generated by `enrich/classify/eval_test.go`.\n\n", len(items), negatives)
	b.WriteString("| class | named: precision | named: recall | named: n | value only: precision | value only: recall | value only: n |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, c := range Classes() {
		n, f := sn[c], sf[c]
		fmt.Fprintf(&b, "| %s | %.3f | %.3f | %d | %s | %s | %d |\n", c, n.precision(), n.recall(), n.tp+n.fn,
			rate(f.precision(), f.tp+f.fp), rate(f.recall(), f.tp+f.fn), f.tp+f.fn)
		if n.precision() < floor || n.recall() < floor {
			t.Errorf("%s: precision %.3f recall %.3f (tp %d fp %d fn %d), floor %.2f", c, n.precision(), n.recall(), n.tp, n.fp, n.fn, floor)
		}
		// Value-only findings must stay precise: a value with no field
		// name to vouch for it is counted only when a validator is sure.
		if f.tp+f.fp > 0 && f.precision() < floor {
			t.Errorf("%s, value only: precision %.3f (tp %d fp %d), floor %.2f", c, f.precision(), f.tp, f.fp, floor)
		}
	}
	table := b.String()

	golden := filepath.Join("testdata", "precision.golden")
	doc := filepath.Join("..", "..", "docs", "classify.md")
	if *update {
		if err := os.WriteFile(golden, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := replaceBetween(doc, table); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != table {
		t.Errorf("the figures changed; review and run go test ./enrich/classify -run PrecisionRecall -update\n%s", table)
	}
	md, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), table) {
		t.Errorf("%s does not carry the figures of %s; run with -update", doc, golden)
	}
}

func rate(v float64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

// The figures sit in docs/classify.md between these markers.
const (
	beginFigures = "<!-- figures: begin -->\n"
	endFigures   = "<!-- figures: end -->\n"
)

func replaceBetween(path, table string) error {
	md, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(md)
	i, j := strings.Index(s, beginFigures), strings.Index(s, endFigures)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no figure markers", path)
	}
	s = s[:i+len(beginFigures)] + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
