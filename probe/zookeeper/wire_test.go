package zookeeper

import (
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf8"
)

// frames is the reference reading of a packet stream: whether a length
// over the limit (or negative) starts a packet.
func frames(b []byte) error {
	for len(b) >= 4 {
		n := int32(binary.BigEndian.Uint32(b))
		if n < 0 || n > maxFrame {
			return ErrFrame
		}
		if int64(len(b)-4) < int64(n) {
			return nil
		}
		b = b[4+n:]
	}
	return nil
}

func TestFrameGuard(t *testing.T) {
	ok := append(binary.BigEndian.AppendUint32(nil, 3), "abc"...)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"two packets", append(append([]byte{}, ok...), ok...), nil},
		{"absurd length", []byte{0x7f, 0xff, 0xff, 0xff}, ErrFrame},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrame},
		{"absurd second length", append(append([]byte{}, ok...), 0x10, 0, 0, 0), ErrFrame},
		{"largest allowed", binary.BigEndian.AppendUint32(nil, maxFrame), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time: a length split across reads.
			var g frameGuard
			var err error
			for i := 0; i < len(tt.b) && err == nil; i++ {
				err = g.check(tt.b[i : i+1])
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("byte by byte: %v, want %v", err, tt.want)
			}
			var whole frameGuard
			if err := whole.check(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("at once: %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzFrameGuard(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzFrameGuard.
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		var g frameGuard
		i := min(int(cut), len(b))
		err := g.check(b[:i])
		if err == nil {
			err = g.check(b[i:])
		}
		if want := frames(b); !errors.Is(err, want) || want == nil && err != nil {
			t.Fatalf("check(%x) cut at %d = %v, want %v", b, i, err, want)
		}
	})
}

func FuzzFourLetter(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzFourLetter.
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, ok := parseSrvr(b); ok && (len(s.Version) > 32 || !utf8.ValidString(s.Version) || s.Nodes < -1) {
			t.Fatalf("parseSrvr(%q) = %+v", b, s)
		}
		m := parseMntr(b)
		if len(m) > 256 {
			t.Fatalf("parseMntr: %d entries", len(m))
		}
		for k, v := range m {
			if len(k) > 64 || len(v) > 128 || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("parseMntr: %q = %q", k, v)
			}
		}
		doc, fields := sampleDoc("/p", b)
		if doc["_path"] != "/p" || len(fields) > maxSampleFields {
			t.Fatalf("sampleDoc(%q) = %v", b, doc)
		}
		for k, v := range doc {
			if len(v) > maxSampleValue || !utf8.ValidString(v) || !utf8.ValidString(k) {
				t.Fatalf("sampleDoc: %q = %q", k, v)
			}
		}
	})
}
