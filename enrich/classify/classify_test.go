package classify

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

var now = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func TestResidentID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"11010519491231002x", true},
		{"110105194912310021", false}, // wrong check character
		{"00010519491231002X", false}, // no such province
		{"110005194912310029", false}, // prefecture 00
		{"110105194902300025", false}, // 30 February
		{"110105209912310028", false}, // born in the future
		{"11010518991231002X", false}, // before 1900
		{"81000019900101001X", false}, // permits have their own check digit
		{"1101051949123100", false},
		{"A1010519491231002X", false},
	} {
		if got := validResidentID(tc.id, now); got != tc.want {
			t.Errorf("validResidentID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	g := fake.New(lab.Seed)
	for i := 1; i <= 200; i++ {
		if p := g.Person(i); !validResidentID(p.IDNumber, now) {
			t.Fatalf("lab person %d: %s rejected", i, p.IDNumber)
		}
	}
	if !validOldResidentID("110105491231002", now) || validOldResidentID("110105491331002", now) {
		t.Error("fifteen-digit numbers")
	}
}

func TestCardAndIBAN(t *testing.T) {
	for _, tc := range []struct {
		number string
		want   bool
	}{
		{"4111111111111111", true},
		{"5500005555555559", true},
		{"2223003122003222", true},
		{"378282246310005", true},
		{"6011111111111117", true},
		{"6212345678901232", true}, // UnionPay
		{"3530111333300000", true}, // JCB
		{"4111111111111112", false},
		{"1234567812345670", false}, // Luhn-valid, no network
		{"41111111111111", false},   // Visa has no 14-digit numbers
	} {
		if got := validCard(tc.number); got != tc.want {
			t.Errorf("validCard(%s) = %v, want %v", tc.number, got, tc.want)
		}
	}
	for _, tc := range []struct {
		iban string
		want bool
	}{
		{"DE89 3704 0044 0532 0130 00", true},
		{"GB82WEST12345698765432", true},
		{"FR1420041010050500013M02606", true},
		{"NL91ABNA0417164300", true},
		{"DE89 3704 0044 0532 0130 01", false},
		{"GB82WEST1234569876543", false}, // a character short
		{"XX89370400440532013000", false},
	} {
		if got := validIBAN(tc.iban); got != tc.want {
			t.Errorf("validIBAN(%s) = %v, want %v", tc.iban, got, tc.want)
		}
	}
}

func TestFieldHints(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  string // class:strength, or "" and negative
		neg   bool
	}{
		{"mobile", "phone:2", false},
		{"手机号", "phone:2", false},
		{"sjhm", "phone:2", false},
		{"lxdh", "phone:2", false},
		{"phone_number", "phone:2", false},
		{"idCardNo", "cn_resident_id:2", false},
		{"id_number", "cn_resident_id:2", false},
		{"身份证号", "cn_resident_id:2", false},
		{"sfzh", "cn_resident_id:2", false},
		{"name", "person_name:1", false},
		{"姓名", "person_name:2", false},
		{"xm", "person_name:2", false},
		{"地址", "address:2", false},
		{"dz", "address:2", false},
		{"ip_address", "ip_address:2", false},
		{"mac_address", "", true},
		{"email_address", "email:2", false},
		{"案件编号", "criminal_record:2", false},
		{"case_no", "criminal_record:2", false},
		{"offence", "criminal_record:2", false},
		{"诊断", "medical_record:2", false},
		{"card_no", "payment_card:2", false},
		{"iban", "iban:2", false},
		{"passwd", "credential:2", false},
		{"api_key", "secret_key:2", false},
		{"order_no", "", true},
		{"created_at", "", true},
		{"person_id", "", true},
		{"id", "", true},
		{"value.mobile", "phone:2", false},
		{"contact.phone.number", "phone:2", false},
		{"product_name", "", true},
	} {
		h := fieldHints(tc.field)
		var got []string
		for c, s := range h.classes {
			got = append(got, c+":"+string(rune('0'+s)))
		}
		slices.Sort(got)
		if strings.Join(got, ",") != tc.want || h.negative != tc.neg {
			t.Errorf("fieldHints(%q) = %v negative=%v, want %q negative=%v", tc.field, got, h.negative, tc.want, tc.neg)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		field, value string
		want         string // classes found, comma-separated
	}{
		{"mobile", "13812345678", "phone"},
		{"phone", "+44 20 7946 0958", "phone"},
		{"value", "+8613812345678", "phone"},
		{"value", "138 1234 5678", "phone"},
		{"tel", "021-62345678", "phone"},
		{"note", "联系电话13812345678", "phone"},
		{"id_number", "11010519491231002X", "cn_resident_id"},
		{"value", "11010519491231002X", "cn_resident_id"},
		{"sfzh", "110105491231002", "cn_resident_id"},
		{"name", "张伟", "person_name"},
		{"姓名", "欧阳娜娜", "person_name"},
		{"full_name", "Mary-Jane O'Neil", "person_name"},
		{"name", "iPhone 14 Pro", ""},
		{"address", "上海市徐汇区人民路88号3栋1单元502室", "address"},
		{"address", "221B Baker Street, London", "address"},
		{"remark", "家住上海市徐汇区人民路88号3栋1单元502室", "address"},
		{"email", "zhangwei@example.com", "email"},
		{"value", "write to z.wei+tag@mail.example.cn today", "email"},
		{"offence", "盗窃：在商场内窃取他人手机一部，价值人民币12300元", "criminal_record"},
		{"remark", "2019年因诈骗被判处有期徒刑三年", "criminal_record"},
		{"diagnosis", "高血压二级", "medical_record"},
		{"card_no", "4111 1111 1111 1111", "payment_card"},
		{"value", "4111-1111-1111-1111", "payment_card"},
		{"iban", "GB82 WEST 1234 5698 7654 32", "iban"},
		{"passport", "E12345678", "passport"},
		{"ssn", "078-05-1120", "national_id"},
		{"password", "hunter2", "credential"},
		{"value", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "credential"},
		{"value", "$6$rounds=5000$saltsalt$" + strings.Repeat("a", 86), "credential"},
		{"value", "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "credential"},
		{"dsn", "postgres://app:s3cret@db.internal:5432/shop", "credential"},
		{"conn", "Server=db;Database=shop;User Id=sa;Password=Passw0rd!;", "credential"},
		{"value", "AKIAIOSFODNN7EXAMPLE", "secret_key"},
		{"value", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "secret_key"},
		{"value", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "secret_key"},
		{"client_ip", "203.0.113.5", "ip_address"},
		{"value", "2001:db8::1", "ip_address"},
		{"location", "31.230416,121.473701", "geo_location"},
		{"lat", "31.230416", "geo_location"},
		{"value", `{"customer":"张伟","mobile":13812345678,"address":"上海市徐汇区人民路88号"}`, "address,person_name,phone"},
		{"value", `{"customer":"张伟","mobile":"13812345678","addr`, "person_name,phone"},
	} {
		got := slices.Sorted(maps.Keys(Classify(tc.field, tc.value)))
		if strings.Join(got, ",") != tc.want {
			t.Errorf("Classify(%q, %q) = %v, want %s", tc.field, tc.value, got, tc.want)
		}
	}
}

// TestFalsePositives: numbers that are not identifiers must not be taken
// for resident IDs, phones or cards, whatever field holds them.
func TestFalsePositives(t *testing.T) {
	values := []string{
		"1700000000", "1700000000123", "1669852800", // Unix timestamps, s and ms
		"2022051314253098765", "20221125103000123", // order numbers
		"550e8400-e29b-41d4-a716-446655440000", "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"1.2.3", "10.11.6-MariaDB-0+deb12u1", "v2.3.4", "1.0.0.12", "15.4",
		"3141592653", "27182818284590452", "123456789012", "9876543210987654",
		"000000000000000000", "111111111111111111", "12345678901234567X",
		"2021-06-01 12:30:45", "128.50", "0.000123", "200030",
	}
	for _, field := range []string{"value", "id", "ts", "order_no", "version", "data"} {
		for _, v := range values {
			for c := range Classify(field, v) {
				if c == CNResidentID || c == Phone || c == PaymentCard {
					t.Errorf("Classify(%q, %q) found %s", field, v, c)
				}
			}
		}
	}
}

func TestDataset(t *testing.T) {
	g := fake.New(lab.Seed)
	var samples []ajar.Sample
	for i := 1; i <= 5; i++ {
		p := g.Person(i)
		samples = append(samples, ajar.Sample{Dataset: "t", Doc: map[string]string{
			"c1": p.Name, "c2": p.Mobile, "c3": p.IDNumber, "c4": "x",
		}})
	}
	d := ajar.Dataset{Name: "t", Fields: []string{"c1", "c2", "c3", "c4", "sfzh", "email"}}
	Dataset(&d, samples)
	// Bare mobiles and names with no field name to vouch for them count
	// once the column agrees; the ID numbers count on their own; "sfzh"
	// and "email" were never sampled: their names count, with no records.
	want := map[string]ajar.ClassCount{
		Phone:        {Count: 5, Confidence: columnAgree},
		PersonName:   {Count: 5, Confidence: columnAgree},
		CNResidentID: {Count: 5, Confidence: certain},
		Email:        {Count: 0, Confidence: fieldOne},
	}
	if !maps.Equal(d.Classes, want) {
		t.Errorf("classes %v, want %v", d.Classes, want)
	}

	// A "tel" column of sampled values that are not phones adds nothing.
	d = ajar.Dataset{Name: "u", Fields: []string{"tel"}}
	Dataset(&d, []ajar.Sample{{Dataset: "u", Doc: map[string]string{"tel": "n/a"}}})
	if d.Classes != nil {
		t.Errorf("contradicted field name: %v", d.Classes)
	}

	e := &ajar.Exposure{Classes: []string{"ip_address"}, Datasets: []ajar.Dataset{{Name: "t"}}, Samples: samples}
	Exposure(e, e.Samples)
	if got := strings.Join(e.Classes, ","); got != "cn_resident_id,ip_address,person_name,phone" {
		t.Errorf("exposure classes %s", got)
	}
}
