package classify

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

var longRun = regexp.MustCompile(`\d{9,}`)

// FuzzRedact: sampled values are hostile input. Redaction must not panic,
// must keep valid text valid, and must leave no run of nine or more digits
// in clear outside a UUID.
func FuzzRedact(f *testing.F) {
	f.Fuzz(func(t *testing.T, field, value string) {
		got := Redact(field, value)
		if utf8.ValidString(value) && !utf8.ValidString(got) {
			t.Fatalf("Redact(%q, %q) = %q: invalid UTF-8", field, value, got)
		}
		uuids := uuidRe.FindAllStringIndex(got, -1)
		for _, loc := range longRun.FindAllStringIndex(got, -1) {
			inUUID := false
			for _, u := range uuids {
				inUUID = inUUID || u[0] <= loc[0] && u[1] >= loc[1]
			}
			if !inUUID {
				t.Fatalf("Redact(%q, %q) = %q: %q left in clear", field, value, got, got[loc[0]:loc[1]])
			}
		}
	})
}

// FuzzClassify: classification must not panic and must give confidences
// in (0, 1].
func FuzzClassify(f *testing.F) {
	f.Fuzz(func(t *testing.T, field, value string) {
		for c, conf := range Classify(field, value) {
			if conf < Threshold || conf > 1 || c == "" {
				t.Fatalf("Classify(%q, %q): %s %v", field, value, c, conf)
			}
		}
	})
}
