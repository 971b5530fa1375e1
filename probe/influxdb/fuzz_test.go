package influxdb

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseAnswer(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzParseAnswer.
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseAnswer(body)
		if err != nil {
			return
		}
		r, err := a.first()
		if err != nil {
			return
		}
		for _, s := range r.Series {
			if got := s.column("name", 3); len(got) > 3 {
				t.Fatalf("column: %d values over the limit", len(got))
			}
			if n, ok := s.count("count"); ok && n < 0 {
				t.Fatalf("count %d", n)
			}
			rows := s.rows(2)
			if len(rows) > 2 {
				t.Fatalf("rows: %d over the limit", len(rows))
			}
			for _, doc := range rows {
				for k, v := range doc {
					if len(v) > maxSampleValue || len(k) > 128 || !utf8.ValidString(v) || !utf8.ValidString(k) {
						t.Fatalf("row field %q = %q", k, v)
					}
				}
			}
		}
	})
}

// FuzzQuoteIdent checks that a quoted name reads back as itself and that
// nothing in it ends the identifier early.
func FuzzQuoteIdent(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzQuoteIdent.
	f.Fuzz(func(t *testing.T, name string) {
		q, ok := quoteIdent(name)
		if !ok {
			return
		}
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("quoteIdent(%q) = %q", name, q)
		}
		var b strings.Builder
		body := q[1 : len(q)-1]
		for i := 0; i < len(body); i++ {
			switch body[i] {
			case '\\':
				if i+1 >= len(body) {
					t.Fatalf("quoteIdent(%q) = %q ends in an escape", name, q)
				}
				i++
				b.WriteByte(body[i])
			case '"':
				t.Fatalf("quoteIdent(%q) = %q has a bare quote", name, q)
			default:
				b.WriteByte(body[i])
			}
		}
		if b.String() != name || strings.ContainsAny(q, "\n\r\x00") {
			t.Fatalf("quoteIdent(%q) = %q reads back as %q", name, q, b.String())
		}
	})
}
