package httpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds of a flattened document.
const (
	// MaxDocFields is the most fields kept from one sampled document.
	MaxDocFields = 64
	// MaxValueBytes is the most bytes kept of one field's value.
	MaxValueBytes = 512
	// maxDocDepth is the deepest nesting followed.
	maxDocDepth = 16
)

// ErrNotObject is returned when a sampled document is not a JSON object.
var ErrNotObject = errors.New("document is not a JSON object")

// FlattenDoc turns a JSON document into the field → value map of a sample:
// nested objects become dotted names (region.code), the values of an array
// are joined with "; " under the array's name, null is left out. At most
// MaxDocFields fields are kept, each value cut to MaxValueBytes. The values
// are raw: the enrich stage classifies and redacts them before anything is
// stored or printed.
func FlattenDoc(raw []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("flatten document: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ErrNotObject
	}
	f := flattener{out: map[string]string{}, dec: dec}
	if err := f.object("", 1); err != nil {
		return nil, fmt.Errorf("flatten document: %w", err)
	}
	return f.out, nil
}

type flattener struct {
	out map[string]string
	dec *json.Decoder
}

// object reads the members of an object whose '{' was read.
func (f *flattener) object(prefix string, depth int) error {
	for {
		tok, err := f.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is a %T", tok)
		}
		if err := f.value(join(prefix, key), depth); err != nil {
			return err
		}
	}
}

// value reads one value and records it under name.
func (f *flattener) value(name string, depth int) error {
	tok, err := f.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok {
		if depth >= maxDocDepth {
			return f.skip(d)
		}
		switch d {
		case '{':
			return f.object(name, depth+1)
		case '[':
			return f.array(name, depth+1)
		}
		return fmt.Errorf("unexpected %q", d)
	}
	if tok != nil {
		f.add(name, scalar(tok))
	}
	return nil
}

// array reads the elements of an array whose '[' was read.
func (f *flattener) array(name string, depth int) error {
	for f.dec.More() {
		if err := f.value(name, depth); err != nil {
			return err
		}
	}
	_, err := f.dec.Token() // ']'
	return err
}

// skip reads past a nested value too deep to keep.
func (f *flattener) skip(open json.Delim) error {
	n := 1
	for n > 0 {
		tok, err := f.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				n++
			} else {
				n--
			}
		}
	}
	return nil
}

// add records one scalar; an array's values are joined.
func (f *flattener) add(name, v string) {
	old, seen := f.out[name]
	if !seen && len(f.out) >= MaxDocFields {
		return
	}
	if seen {
		if len(old) >= MaxValueBytes {
			return
		}
		v = old + "; " + v
	}
	if len(v) > MaxValueBytes {
		v = Excerpt([]byte(v), MaxValueBytes)
	}
	f.out[name] = v
}

func scalar(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// DecodeLimited decodes JSON from b into v, refusing trailing garbage.
func DecodeLimited(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Trim returns s without surrounding space, cut to n bytes: a server's
// message fit for a verdict's detail.
func Trim(s string, n int) string {
	return strings.TrimSpace(Excerpt([]byte(strings.TrimSpace(s)), n))
}
