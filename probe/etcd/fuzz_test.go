package etcd

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func FuzzParseRange(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzParseRange.
	f.Fuzz(func(t *testing.T, body []byte) {
		if msg, _, ok := parseError(body); ok && (len(msg) > 200 || !utf8.ValidString(msg)) {
			t.Fatalf("parseError(%q) = %q", body, msg)
		}
		r, err := parseRange(body)
		if err != nil {
			return
		}
		if r.Count < int64(len(r.KVs)) {
			t.Fatalf("count %d for %d keys", r.Count, len(r.KVs))
		}
		for _, kv := range r.KVs {
			doc, fields := sampleDoc(kv.Key, kv.Value)
			if len(fields) > maxSampleFields || len(doc) > maxSampleFields+2 {
				t.Fatalf("sampleDoc: %d fields", len(doc))
			}
			for k, v := range doc {
				if len(v) > maxSampleValue || !utf8.ValidString(v) || !utf8.ValidString(k) {
					t.Fatalf("sampleDoc: %q = %q", k, v)
				}
			}
		}
	})
}

// FuzzPrefix checks that a key's group contains it and that the group's end
// comes after every key of the group.
func FuzzPrefix(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzPrefix.
	f.Fuzz(func(t *testing.T, key, suffix []byte) {
		p, named := prefixOf(key)
		if !bytes.HasPrefix(key, p) || named && (len(p) > maxSegment+2 || !utf8.Valid(p)) {
			t.Fatalf("prefixOf(%q) = %q, %v", key, p, named)
		}
		end := prefixEnd(p)
		if bytes.Equal(end, []byte{0}) {
			return // to the end of the key space
		}
		member := append(append([]byte{}, p...), suffix...)
		if bytes.Compare(member, end) >= 0 || bytes.Compare(p, end) >= 0 {
			t.Fatalf("prefixEnd(%q) = %q is not past %q", p, end, member)
		}
	})
}
