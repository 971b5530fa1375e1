// Package emulator holds what the lab's emulated data stores share: the
// seeded corpus and its figures, and the refusal of every writing request.
package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Field is one field of a document. Value is a string, an int64, a bool or a
// Doc (an object).
type Field struct {
	Name  string
	Type  string // the product-neutral type: text, keyword, date, long, object
	Value any
}

// Doc is a document whose fields keep their order, as a JSON store returns
// them.
type Doc []Field

// MarshalJSON writes the fields in order.
func (d Doc) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Guard counts and logs the writing requests an emulator refused, so that
// tests can assert that a probe sent none.
type Guard struct {
	// Log receives one line per refused request; nil discards.
	Log *slog.Logger

	n   atomic.Int64
	mu  sync.Mutex
	got []string
}

// Refuse records r as a refused write.
func (g *Guard) Refuse(r *http.Request) {
	g.n.Add(1)
	line := r.Method + " " + r.URL.RequestURI()
	g.mu.Lock()
	if len(g.got) < 100 {
		g.got = append(g.got, line)
	}
	g.mu.Unlock()
	if g.Log != nil {
		g.Log.Warn("refused a writing request", "method", r.Method, "uri", r.URL.RequestURI(), "remote", r.RemoteAddr)
	}
}

// Writes returns how many writing requests were refused.
func (g *Guard) Writes() int64 { return g.n.Load() }

// Refused returns the first refused requests, as "METHOD URI".
func (g *Guard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got...)
}

// WriteJSON writes v as a JSON answer with the given status and content type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	WriteBody(w, status, contentType, b)
}

// WriteBody writes a body with its length.
func WriteBody(w http.ResponseWriter, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Object is a JSON object whose members keep their order, for answers that
// must look like the product's: Object{{"name", "x"}, {"count", 3}}. Each
// member is a key (a string) and a value.
type Object [][2]any

// MarshalJSON writes the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	d := make(Doc, len(o))
	for i, p := range o {
		k, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", p[0])
		}
		d[i] = Field{Name: k, Value: p[1]}
	}
	return d.MarshalJSON()
}
