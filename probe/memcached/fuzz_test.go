package memcached

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAnswer feeds arbitrary answer lines to every parser of the probe.
func FuzzAnswer(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzAnswer.
	f.Fuzz(func(t *testing.T, data []byte) {
		items, slabs := map[string]string{}, map[string]string{}
		for line := range bytes.Lines(data) {
			line = bytes.TrimRight(line, "\r\n")
			if k, v, ok := statLine(line); ok {
				if k == "" || strings.Contains(k, " ") {
					t.Fatalf("statLine(%q) = %q, %q", line, k, v)
				}
				items[k], slabs[k] = v, v
			}
			if e, ok := metadumpLine(line); ok {
				if e.Key == "" || len(e.Key) > maxKeyLen || e.Class < 0 || e.Class > maxClass || e.Size < 0 {
					t.Fatalf("metadumpLine(%q) = %+v", line, e)
				}
			}
			if key, n, ok := valueHeader(line); ok && (n < 0 || len(key) > maxKeyLen || key == "") {
				t.Fatalf("valueHeader(%q) = %q, %d", line, key, n)
			}
		}
		cls := classes(items, slabs)
		for i, c := range cls {
			if c.Items <= 0 || c.Bytes < 0 || c.ID < 0 || c.ID > maxClass || i > 0 && cls[i-1].ID >= c.ID {
				t.Fatalf("classes: %+v", cls)
			}
		}
	})
}

func FuzzKeyPattern(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzKeyPattern.
	f.Fuzz(func(t *testing.T, key string) {
		p := keyPattern(key)
		if p == "*" {
			return
		}
		prefix := p[:len(p)-2]
		if !isName(prefix) || !strings.HasPrefix(key, p[:len(p)-1]) {
			t.Fatalf("keyPattern(%q) = %q", key, p)
		}
	})
}

func FuzzSampleDoc(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzSampleDoc.
	f.Fuzz(func(t *testing.T, value []byte) {
		doc, fields := sampleDoc("k", value)
		if doc["_key"] != "k" || len(fields) > maxSampleFields || len(doc) > maxSampleFields+2 {
			t.Fatalf("sampleDoc(%q) = %v, %v", value, doc, fields)
		}
		for k, v := range doc {
			if len(v) > maxSampleValue || !utf8.ValidString(v) || !utf8.ValidString(k) {
				t.Fatalf("sampleDoc(%q): %q = %q", value, k, v)
			}
		}
	})
}
