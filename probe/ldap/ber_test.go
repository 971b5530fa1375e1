package ldap

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseLength(t *testing.T) {
	tests := []struct {
		in       []byte
		n, width int
		ok       bool
	}{
		{[]byte{0x05}, 5, 1, true},
		{[]byte{0x7f}, 127, 1, true},
		{[]byte{0x81, 0x80}, 128, 2, true},
		{[]byte{0x82, 0x01, 0x00}, 256, 3, true},
		{[]byte{0x84, 0x7f, 0xff, 0xff, 0xff}, 1<<31 - 1, 5, true},
		{[]byte{0x80}, 0, 0, false},                         // indefinite
		{[]byte{0x85, 1, 2, 3, 4, 5}, 0, 0, false},          // too wide
		{[]byte{0x82, 0x01}, 0, 0, false},                   // short
		{[]byte{0x84, 0xff, 0xff, 0xff, 0xff}, 0, 0, false}, // negative on 32 bits
		{nil, 0, 0, false},
	}
	for _, tt := range tests {
		n, w, err := parseLength(tt.in)
		if (err == nil) != tt.ok || tt.ok && (n != tt.n || w != tt.width) {
			t.Errorf("parseLength(% x) = %d, %d, %v", tt.in, n, w, err)
		}
	}
}

func TestInts(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 500, 65535, 1 << 31, -1, -128, -129, 1<<62 + 7} {
		b := appendInt(nil, tagInteger, v)
		e, rest, err := parseTLV(b)
		if err != nil || len(rest) != 0 || e.Tag != tagInteger {
			t.Fatalf("%d: % x: %v", v, b, err)
		}
		got, err := parseInt(e.Body)
		if err != nil || got != v {
			t.Errorf("round trip of %d: % x gives %d, %v", v, b, got, err)
		}
	}
	if _, err := parseInt(make([]byte, 9)); !errors.Is(err, ErrProtocol) {
		t.Errorf("nine-byte integer: %v", err)
	}
}

func TestMessages(t *testing.T) {
	// The anonymous bind as identify sends it (RFC 4511 §4.2).
	want := []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}
	if got := envelope(1, bindRequest(), nil); !bytes.Equal(got, want) {
		t.Errorf("bind = % x, want % x", got, want)
	}
	// A paged search decodes back to its parts.
	msg := envelope(7, searchRequest("dc=x", scopeSub, 0, "1.1"), pagedControl(500, []byte("c")))
	body, err := readMessage(bufio.NewReader(bytes.NewReader(msg)), maxMessage)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseMessage(body)
	if err != nil || m.ID != 7 || m.Op != opSearchRequest || len(m.Controls) != 1 {
		t.Fatalf("message %+v, %v", m, err)
	}
	// The control is the one a server answers with, cookie and all.
	if c, ok := pagedCookie(m.Controls); !ok || string(c) != "c" {
		t.Errorf("cookie %q, %v", c, ok)
	}

	done := resultOp(opSearchDone, codeReferral, "see", "ldap://a/", "ldap://b/")
	op, _, _ := parseTLV(done)
	r, err := parseResult(op.Body)
	if err != nil || r.Code != codeReferral || r.Diagnostic != "see" || !slices.Equal(r.Referrals, []string{"ldap://a/", "ldap://b/"}) {
		t.Errorf("result %+v, %v", r, err)
	}
	if r.String() != "LDAP 10 referral: see" {
		t.Errorf("String() = %q", r.String())
	}

	e := entryOp("uid=a,dc=x", attr("cn", "A", "B"), attr("mail"))
	op, _, _ = parseTLV(e)
	en, err := parseEntry(op.Body)
	if err != nil || en.DN != "uid=a,dc=x" || len(en.Attrs) != 2 || len(en.Attrs[0].Values) != 2 || string(en.Attrs[0].Values[1]) != "B" {
		t.Errorf("entry %+v, %v", en, err)
	}
}

func TestReadMessage(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"\x30\x03\x02\x01\x01", nil},
		{"\x04\x03abc", ErrProtocol},
		{"\x30\x84\x00\x10\x00\x01", ErrLimit},
		{"\x30\x80", ErrProtocol},
		{"\x30\x05\x02", errors.New("unexpected EOF")},
	}
	for _, tt := range tests {
		_, err := readMessage(bufio.NewReader(strings.NewReader(tt.in)), 1<<16)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("readMessage(% x): %v", tt.in, err)
		case tt.want != nil && err == nil:
			t.Errorf("readMessage(% x) succeeded", tt.in)
		case tt.want != nil && (errors.Is(tt.want, ErrProtocol) || errors.Is(tt.want, ErrLimit)) && !errors.Is(err, tt.want):
			t.Errorf("readMessage(% x): %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestDN(t *testing.T) {
	if got := splitDN(`cn=a\,b,ou=x, dc=y`); !slices.Equal(got, []string{`cn=a\,b`, "ou=x", "dc=y"}) {
		t.Errorf("splitDN = %q", got)
	}
	tests := []struct {
		dn, base, top string
		below         bool
	}{
		{"uid=u1,ou=people,dc=corp", "dc=corp", "ou=people", true},
		{"ou=people,dc=corp", "dc=corp", "ou=people", false},
		{"UID=u1,OU=People,DC=Corp", "dc=corp", "OU=People", true},
		{"dc=corp", "dc=corp", "", false},
		{"cn=x,dc=other", "dc=corp", "", false},
		{"cn=x,xdc=corp", "dc=corp", "", false},
	}
	for _, tt := range tests {
		top, below := splitBelow(tt.dn, tt.base)
		if top != tt.top || below != tt.below {
			t.Errorf("splitBelow(%q, %q) = %q, %v", tt.dn, tt.base, top, below)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := printable([]byte{0xff, 0xd8, 0xff}); got != "(3 bytes of binary data)" {
		t.Errorf("printable(jpeg) = %q", got)
	}
	if got := printable([]byte(strings.Repeat("a", 1000))); len(got) != maxValue {
		t.Errorf("printable kept %d bytes", len(got))
	}
}
