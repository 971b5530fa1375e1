package ldap

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadMessage: any stream gives messages no larger than the limit, and
// their decoding ends without a panic.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := bufio.NewReader(bytes.NewReader(data))
		for range 64 {
			body, err := readMessage(rd, 1<<12)
			if err != nil {
				return
			}
			if len(body) > 1<<12 {
				t.Fatalf("message of %d bytes", len(body))
			}
			decode(body)
		}
	})
}

// FuzzParseMessage decodes a message body as every operation the probe
// reads.
func FuzzParseMessage(f *testing.F) {
	f.Add(envelope(2, entryOp("uid=a,dc=x", attr("cn", "A")), nil)[2:])
	f.Add(envelope(3, resultOp(opSearchDone, 10, "x", "ldap://a/"), pagedControl(500, []byte("c")))[2:])
	f.Fuzz(func(t *testing.T, body []byte) {
		decode(body)
	})
}

func decode(body []byte) {
	m, err := parseMessage(body)
	if err != nil {
		return
	}
	_, _ = parseResult(m.Body)
	if e, err := parseEntry(m.Body); err == nil {
		top, _ := splitBelow(e.DN, "dc=x")
		_ = isOU(top)
		for _, a := range e.Attrs {
			for _, v := range a.Values {
				_ = printable(v)
			}
		}
	}
	_, _ = pagedCookie(m.Controls)
}
