package ftp

import (
	"bufio"
	"bytes"
	"testing"
)

func FuzzParseList(f *testing.F) {
	f.Add([]byte("drwxr-xr-x    2 0        0            4096 Nov 25  2022 pub\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range parseList(data, 1000) {
			if e.Size < 0 || e.Name == "" || e.Name == "." || e.Name == ".." {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("220 (vsFTPd 3.0.3)\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readReply(bufio.NewReaderSize(bytes.NewReader(data), maxLine))
		if err == nil && (r.Code < 100 || r.Code > 599 || len(r.Text) > maxText+maxLine) {
			t.Fatalf("reply %d with %d bytes of text", r.Code, len(r.Text))
		}
	})
}

func FuzzParsePassive(f *testing.F) {
	f.Add("Entering Passive Mode (127,0,13,10,117,48).")
	f.Fuzz(func(t *testing.T, text string) {
		if _, port, err := parsePASV(text); err == nil && port == 0 {
			t.Fatal("PASV port 0 accepted")
		}
		if port, err := parseEPSV(text); err == nil && port == 0 {
			t.Fatal("EPSV port 0 accepted")
		}
		parsePWD(text)
	})
}
