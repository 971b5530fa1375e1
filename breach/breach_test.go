package breach

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func TestHashAndKeys(t *testing.T) {
	d := Hash(KindPhone, "+8613812345678")
	want := sha256.Sum256([]byte("phone:+8613812345678"))
	if d != want {
		t.Fatal("Hash is not SHA-256 of kind:value")
	}
	hx := d.Hex()
	if hx != strings.ToUpper(hex.EncodeToString(want[:])) {
		t.Fatalf("Hex %s", hx)
	}
	if FormatPrefix(d.Prefix()) != hx[:5] {
		t.Errorf("prefix %s, hash %s", FormatPrefix(d.Prefix()), hx)
	}
	k := HashedKey(d)
	if k.Bucket() != d.Prefix() || k.Suffix() != hx[5:32] || HashedSuffix(d) != hx[5:32] {
		t.Errorf("hashed key: bucket %05X suffix %s, hash %s", k.Bucket(), k.Suffix(), hx)
	}
	out := sha256.Sum256([]byte("an OPRF output"))
	pk := PrivateKey(d, out[:])
	outHex := strings.ToUpper(hex.EncodeToString(out[:]))
	if pk.Bucket() != d.Prefix() || pk.Suffix() != outHex[:SuffixLen] || PrivateSuffix(out[:]) != outHex[:SuffixLen] {
		t.Errorf("private key: bucket %05X suffix %s, output %s", pk.Bucket(), pk.Suffix(), outHex)
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"00000", 0, true}, {"FFFFF", 0xFFFFF, true}, {"abcde", 0xABCDE, true}, {"1a2B3", 0x1A2B3, true},
		{"", 0, false}, {"ABCD", 0, false}, {"ABCDEF", 0, false}, {"GHIJK", 0, false}, {"-1234", 0, false}, {"12 45", 0, false},
		{"１２３４５", 0, false},
	} {
		got, err := ParsePrefix(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePrefix(%q) = %X, %v", tc.in, got, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	s := strings.Repeat("A", SuffixLen)
	b := strings.Repeat("b", SuffixLen)
	text := string(AppendEntry(nil, s, []int{1, 12})) + b + ":3\r\n\n#......\n"
	es, err := ParseRange(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{s, []int{1, 12}}, {strings.ToUpper(b), []int{3}}}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("got %+v", es)
	}
	if ids := Match(es, strings.ToUpper(b)); !reflect.DeepEqual(ids, []int{3}) {
		t.Errorf("Match: %v", ids)
	}
	for _, bad := range []string{"ABC:1\n", s + "\n", s + ":x\n", s + ":-1\n", s + ":\n", s + ":1,,2\n"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"phone": KindPhone, " ID ": KindID, "Email": KindEmail} {
		if k, err := ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, k, err)
		}
	}
	if _, err := ParseKind("fax"); err == nil {
		t.Error("ParseKind(fax) accepted")
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add(strings.Repeat("0", SuffixLen) + ":1,2\n#..\n")
	f.Fuzz(func(t *testing.T, text string) {
		es, err := ParseRange(text)
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.Suffix) != SuffixLen || !isHex(e.Suffix) || e.Suffix != strings.ToUpper(e.Suffix) || len(e.Breaches) == 0 {
				t.Fatalf("entry %+v from %q", e, text)
			}
		}
	})
}
