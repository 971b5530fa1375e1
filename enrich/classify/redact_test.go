package classify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		field, value, want string
	}{
		{"mobile", "13812345678", "138****5678"},
		{"value", "13812345678", "138****5678"},
		{"phone", "+86 138 1234 5678", "+86 138 **** 5678"},
		{"phone", "+8613812345678", "+86138****5678"},
		{"tel", "021-62345678", "021-****5678"},
		{"id_number", "31010419900307123X", "3101**********123X"},
		{"id_number", "310104199003071248", "3101**********1248"},
		{"sfzh", "not an id 99", "n** ** ** 99"},
		{"email", "zhangwei@example.com", "z***@example.com"},
		{"name", "张伟", "张*"},
		{"xm", "欧阳娜娜", "欧阳*"},
		{"full_name", "John Smith", "J* S*"},
		{"address", "上海市徐汇区人民路88号3栋1单元502室", "上海市*"},
		{"address", "广西壮族自治区南宁市青秀区民族大道100号", "广西壮族自治区*"},
		{"address", "221B Baker Street, London, United Kingdom", "*, United Kingdom"},
		{"address", "人民路88号", "*"},
		{"card_no", "4111 1111 1111 1111", "**** **** **** 1111"},
		{"iban", "DE89370400440532013000", "DE****************3000"},
		{"passport", "E12345678", "E******78"},
		{"password", "hunter2", "********"},
		{"value", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "$2b$12$********"},
		{"dsn", "postgres://app:s3cret@db.internal:5432/shop", "postgres://app:********@db.internal:5432/shop"},
		{"value", "AKIAIOSFODNN7EXAMPLE", "AKIA********"},
		{"client_ip", "203.0.113.5", "203.0.*.*"},
		{"location", "31.230416,121.473701", "31.2*,121.4*"},
		{"order_no", "2022051314253098765", "2022***********8765"},
		{"case_no", "A3101042021060012345", "A3101***********2345"},
		{"note", "请联系13812345678或zhang@example.com", "请联系138****5678或z***@example.com"},
		{"status", "已完成", "已完成"},
		{"birth_date", "1990-05-12", "1990-**-**"},
		{"出生日期", "19900512", "1990****"},
		{"created_at", "2021-06-01 12:30:45", "2021-06-01 12:30:45"},
		{"version", "1.2.3.4", "1.2.3.4"},
		{"request_id", "550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"},
		{"amount", "128.50", "128.50"},
		{"value", `{"name":"张伟","mobile":13812345678,"tags":["a"]}`, `{"mobile":"138****5678","name":"张*","tags":["a"]}`},
		{"value", `{"name":"张伟","mobile":"13812345678","address":"上海市徐汇区人民`, `{"name":"张*","mobile":"138****5678","address":"上海市*`},
	} {
		if got := Redact(tc.field, tc.value); got != tc.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tc.field, tc.value, got, tc.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	in := "police.person_info rows=3000; sample 11010519491231002X 13912345678 data_length=1589248"
	want := "police.person_info rows=3000; sample 1101**********002X 139****5678 data_length=1589248"
	if got := RedactText(in); got != want {
		t.Errorf("RedactText = %q, want %q", got, want)
	}
	long := strings.Repeat("张", maxScan) + "13812345678"
	if got := RedactText(long); strings.Contains(got, "13812345678") || !utf8.ValidString(got) {
		t.Error("the part of a value beyond the scan limit survives redaction")
	}
}
