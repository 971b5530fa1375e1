package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ident"
)

func TestNew(t *testing.T) {
	n, _ := ident.NewNormalizer("CN")
	for _, tc := range []struct {
		kind  breach.Kind
		value string
		want  breach.Kind
		input string
	}{
		{"", "138 1234 5678", breach.KindPhone, "phone:+8613812345678"},
		{"", "11010519491231002x", breach.KindID, "id:11010519491231002X"},
		{"", " Zhang@Example.com", breach.KindEmail, "email:zhang@example.com"},
		{breach.KindPhone, "+44 7400 123456", breach.KindPhone, "phone:+447400123456"},
	} {
		q, err := New(n, tc.kind, tc.value)
		if err != nil || q.Kind != tc.want || string(q.input) != tc.input {
			t.Errorf("New(%q, %q) = %+v, %v", tc.kind, tc.value, q, err)
			continue
		}
		if d := breach.Hash(q.Kind, strings.TrimPrefix(tc.input, string(q.Kind)+":")); q.Prefix() != d.Hex()[:5] {
			t.Errorf("%q: prefix %s, hash %s", tc.value, q.Prefix(), d.Hex())
		}
	}
	for _, bad := range []string{"hello", "12345", "110105194912310021"} {
		if _, err := New(n, "", bad); !errors.Is(err, ident.ErrInvalid) {
			t.Errorf("New(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMatchPrivateRefuses(t *testing.T) {
	n, _ := ident.NewNormalizer("CN")
	q, _ := New(n, "", "13812345678")
	if _, err := q.MatchPrivate(breach.PrivateAnswer{Suite: breach.OPRFSuite}); err == nil {
		t.Error("matched before blinding")
	}
	req, err := q.Blind()
	if err != nil || len(req.Blinded) != 64 {
		t.Fatalf("Blind: %+v, %v", req, err)
	}
	for _, a := range []breach.PrivateAnswer{
		{Suite: "P256-SHA256", Evaluated: req.Blinded},
		{Suite: breach.OPRFSuite, Evaluated: "zz"},
		{Suite: breach.OPRFSuite, Evaluated: strings.Repeat("ff", 32)},
		{Suite: breach.OPRFSuite, Evaluated: req.Blinded, Range: "not a range\n"},
	} {
		if _, err := q.MatchPrivate(a); err == nil {
			t.Errorf("answer %+v accepted", a)
		}
	}
}
