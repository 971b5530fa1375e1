package ftp

import (
	"bufio"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseListLine(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		want entry
	}{
		{"drwxr-xr-x    2 0        0            4096 Nov 25  2022 pub", true, entry{"pub", kindDir, 4096}},
		{"-rw-r--r--    1 0        0          114034 Nov 25 09:30 persons 2022.csv", true, entry{"persons 2022.csv", kindFile, 114034}},
		{"-rw-r--r-- 1 ftp ftp 5 Jan  1  1970 a", true, entry{"a", kindFile, 5}},
		{"-rw-r--r-- 1 owner 12 Dec 31 23:59 no-group.txt", true, entry{"no-group.txt", kindFile, 12}},
		{"lrwxrwxrwx    1 0        0               7 Nov 25  2022 latest -> pub/old", true, entry{"latest", kindLink, 7}},
		{"-rw-r--r--    1 0        0            3000 11月 25  2022 报表.xlsx", true, entry{"报表.xlsx", kindFile, 3000}},
		{"-rw-r--r--+   1 0        0            3000 Nov 25  2022 acl", true, entry{"acl", kindFile, 3000}},
		{"crw-rw-rw-    1 0        0          1,   3 Nov 25  2022 null", true, entry{"null", kindOther, 3}},
		{"11-25-22  09:30AM       <DIR>          backup", true, entry{"backup", kindDir, 0}},
		{"11-25-22  09:30AM                 1234 db dump.sql", true, entry{"db dump.sql", kindFile, 1234}},
		{"total 12", false, entry{}},
		{"drwxr-xr-x    2 0        0            4096 Nov 25  2022 ..", false, entry{}},
		{"-rw-r--r--    1 0        0              -5 Nov 25  2022 neg", false, entry{}},
		{"", false, entry{}},
		{"garbage line with Nov 25 2022 words", false, entry{}},
	}
	for _, tt := range tests {
		got, ok := parseListLine(tt.line)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseListLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseList(t *testing.T) {
	data := "total 8\r\ndrwxr-xr-x 2 0 0 4096 Nov 25 2022 a\r\n-rw-r--r-- 1 0 0 10 Nov 25 2022 b\nnot a line\r\n"
	got := parseList([]byte(data), 10)
	if len(got) != 2 || got[0].Name != "a" || got[1].Size != 10 {
		t.Errorf("parseList = %+v", got)
	}
	if got := parseList([]byte(data), 1); len(got) != 1 {
		t.Errorf("parseList with a maximum of 1 = %+v", got)
	}
}

func TestParsePASV(t *testing.T) {
	tests := []struct {
		text string
		ip   string
		port uint16
		ok   bool
	}{
		{"Entering Passive Mode (127,0,13,10,117,48).", "127.0.13.10", 30000, true},
		{"Entering Passive Mode 10,1,2,3,4,5", "10.1.2.3", 1029, true},
		{"=127,0,0,1,0,21", "127.0.0.1", 21, true},
		{"Entering Passive Mode (1,2,3,4,0,0)", "", 0, false},
		{"Entering Passive Mode (1,2,3,4,256,1)", "", 0, false},
		{"Entering Passive Mode (1,2,3,4,5)", "", 0, false},
		{"nothing", "", 0, false},
	}
	for _, tt := range tests {
		ip, port, err := parsePASV(tt.text)
		if (err == nil) != tt.ok || tt.ok && (ip.String() != tt.ip || port != tt.port) {
			t.Errorf("parsePASV(%q) = %v, %d, %v", tt.text, ip, port, err)
		}
	}
}

func TestParseEPSV(t *testing.T) {
	tests := []struct {
		text string
		port uint16
		ok   bool
	}{
		{"Entering Extended Passive Mode (|||30012|)", 30012, true},
		{"Entering Extended Passive Mode (!!!6446!)", 6446, true},
		{"Entering Extended Passive Mode (|1|10.0.0.1|6446|)", 0, false},
		{"Entering Extended Passive Mode (|||0|)", 0, false},
		{"Entering Extended Passive Mode (|||70000|)", 0, false},
		{"Entering Extended Passive Mode (|||", 0, false},
		{"(", 0, false},
	}
	for _, tt := range tests {
		port, err := parseEPSV(tt.text)
		if (err == nil) != tt.ok || port != tt.port {
			t.Errorf("parseEPSV(%q) = %d, %v", tt.text, port, err)
		}
	}
}

func TestParsePWD(t *testing.T) {
	tests := []struct {
		text, want string
		ok         bool
	}{
		{`"/" is the current directory`, "/", true},
		{`"/home/""quoted""" created.`, `/home/"quoted"`, true},
		{`no quotes`, "", false},
		{`"unterminated`, "", false},
	}
	for _, tt := range tests {
		got, ok := parsePWD(tt.text)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parsePWD(%q) = %q, %v", tt.text, got, ok)
		}
	}
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		in   string
		code int
		text string
		err  error
	}{
		{"220 (vsFTPd 3.0.3)\r\n", 220, "(vsFTPd 3.0.3)", nil},
		{"230-Welcome\r\n  to the server\r\n230-more\r\n230 Login successful.\r\n", 230, "Welcome\n  to the server\nmore\nLogin successful.", nil},
		{"220\r\n", 220, "", nil},
		{"220 no newline", 0, "", errors.New("EOF")},
		{"hello\r\n", 0, "", ErrProtocol},
		{"620 bad class\r\n", 0, "", ErrProtocol},
		{"220 " + strings.Repeat("x", maxLine) + "\r\n", 0, "", ErrLimit},
		{"220-a\r\n" + strings.Repeat("x\r\n", maxReplyLines) + "220 end\r\n", 0, "", ErrLimit},
	}
	for _, tt := range tests {
		r, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), maxLine))
		switch {
		case tt.err == nil && err != nil:
			t.Errorf("readReply(%q): %v", tt.in, err)
		case tt.err != nil && err == nil:
			t.Errorf("readReply(%q) = %+v, want an error", tt.in, r)
		case tt.err != nil && (errors.Is(tt.err, ErrProtocol) || errors.Is(tt.err, ErrLimit)) && !errors.Is(err, tt.err):
			t.Errorf("readReply(%q): %v, want %v", tt.in, err, tt.err)
		case tt.err == nil && (r.Code != tt.code || r.Text != tt.text):
			t.Errorf("readReply(%q) = %d %q, want %d %q", tt.in, r.Code, r.Text, tt.code, tt.text)
		}
	}
}

func TestProduct(t *testing.T) {
	for in, want := range map[string][2]string{
		"(vsFTPd 3.0.3)":                      {"vsFTPd", "3.0.3"},
		"ProFTPD 1.3.8 Server (Debian) [::1]": {"ProFTPD", "1.3.8"},
		"Microsoft FTP Service":               {"Microsoft FTP Service", ""},
		"Welcome":                             {"", ""},
	} {
		if p, v := product(in); p != want[0] || v != want[1] {
			t.Errorf("product(%q) = %q %q, want %q", in, p, v, want)
		}
	}
}

func TestSafePath(t *testing.T) {
	for in, want := range map[string]bool{"pub": true, "a b": true, "x\r\nDELE y": false, "x\x00": false, "": false, "\xff\xf4": false} {
		if safePath(in) != want {
			t.Errorf("safePath(%q) = %v", in, !want)
		}
	}
}
