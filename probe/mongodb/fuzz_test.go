package mongodb

import (
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// frames is the reference reading of a message stream: whether a length
// out of bounds starts a message.
func frames(b []byte) error {
	for len(b) >= 4 {
		n := int32(binary.LittleEndian.Uint32(b))
		if n < minFrame || n > maxFrame {
			return ErrFrame
		}
		if len(b) < int(n) {
			return nil
		}
		b = b[n:]
	}
	return nil
}

func TestFrameGuard(t *testing.T) {
	msg := binary.LittleEndian.AppendUint32(nil, 16)
	msg = append(msg, make([]byte, 12)...)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"two messages", append(append([]byte{}, msg...), msg...), nil},
		{"absurd length", binary.LittleEndian.AppendUint32(nil, 0x7fffffff), ErrFrame},
		{"shorter than a header", binary.LittleEndian.AppendUint32(nil, 15), ErrFrame},
		{"negative", binary.LittleEndian.AppendUint32(nil, 0xffffffff), ErrFrame},
		{"absurd second length", append(append([]byte{}, msg...), 0, 0, 0, 0x10), ErrFrame},
		{"largest allowed", binary.LittleEndian.AppendUint32(nil, maxFrame), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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

// FuzzDocument feeds documents, as a server could send them, to what the
// probe keeps of a sample.
func FuzzDocument(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzDocument.
	f.Fuzz(func(t *testing.T, b []byte) {
		doc := bson.Raw(b)
		flat := flatten(doc)
		if len(flat) > maxSampleFields {
			t.Fatalf("flatten: %d fields", len(flat))
		}
		for k, v := range flat {
			if len(v) > maxSampleValue || !utf8.ValidString(v) || !utf8.ValidString(k) {
				t.Fatalf("flatten: %q = %q", k, v)
			}
		}
		names := fieldNames(doc, nil)
		if len(names) > maxFields {
			t.Fatalf("fieldNames: %d", len(names))
		}
		_ = number(bson.RawValue{Type: bson.TypeDouble, Value: b})
	})
}
