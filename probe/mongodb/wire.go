package mongodb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ErrFrame is returned when the server announces a message the probe will
// not read: the driver would allocate any length up to 48 MB it is told.
var ErrFrame = errors.New("message length out of bounds")

// Bounds of a wire message: the 16-byte header at least, maxFrame at most.
// The answers the probe asks for (a handful of documents, catalogs) are far
// smaller. https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/#standard-message-header
const (
	minFrame = 16
	maxFrame = 8 << 20
)

// frameGuard tracks the messages in the bytes read from a connection: each
// starts with its total length, a little-endian int32 that counts itself.
type frameGuard struct {
	left int64 // bytes of the current message still to come
	head [4]byte
	n    int
}

// check scans b, read from the server, and returns ErrFrame at the first
// length out of bounds.
func (g *frameGuard) check(b []byte) error {
	for len(b) > 0 {
		if g.left > 0 {
			k := min(int64(len(b)), g.left)
			g.left -= k
			b = b[k:]
			continue
		}
		k := copy(g.head[g.n:], b)
		g.n += k
		b = b[k:]
		if g.n < 4 {
			return nil
		}
		g.n = 0
		size := int32(binary.LittleEndian.Uint32(g.head[:]))
		if size < minFrame || size > maxFrame {
			return fmt.Errorf("%d bytes announced: %w", size, ErrFrame)
		}
		g.left = int64(size) - 4
	}
	return nil
}

// guardedConn is a connection whose reads pass through a frameGuard.
type guardedConn struct {
	net.Conn
	g   frameGuard
	err error
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if gerr := c.g.check(p[:n]); gerr != nil {
		c.err = gerr
		return 0, gerr
	}
	return n, err
}

// Bounds on what is kept of a sampled document.
const (
	maxSampleFields = 32
	maxSampleValue  = 1024
	maxFields       = 64
)

// flatten turns a document into a sample record: each top-level field as a
// string (a nested document or array as its JSON text), at most
// maxSampleFields of them, each clipped.
func flatten(doc bson.Raw) map[string]string {
	out := map[string]string{}
	elems, err := doc.Elements()
	if err != nil {
		return out
	}
	for _, e := range elems {
		if len(out) >= maxSampleFields {
			break
		}
		k, err := e.KeyErr()
		if err != nil || !utf8.ValidString(k) {
			continue
		}
		out[clip(k, 128)] = clip(valueString(e.Value()), maxSampleValue)
	}
	return out
}

// valueString renders a BSON value for a sample.
func valueString(v bson.RawValue) string {
	switch v.Type {
	case bson.TypeString:
		s, _ := v.StringValueOK()
		return s
	case bson.TypeInt32:
		n, _ := v.Int32OK()
		return strconv.FormatInt(int64(n), 10)
	case bson.TypeInt64:
		n, _ := v.Int64OK()
		return strconv.FormatInt(n, 10)
	case bson.TypeDouble:
		f, _ := v.DoubleOK()
		return strconv.FormatFloat(f, 'f', -1, 64)
	case bson.TypeBoolean:
		b, _ := v.BooleanOK()
		return strconv.FormatBool(b)
	case bson.TypeNull, bson.TypeUndefined:
		return ""
	case bson.TypeBinary:
		return "(binary)"
	}
	// Dates, ObjectIDs, nested documents: the driver's relaxed rendering.
	return v.String()
}

// fieldNames returns the top-level field names of a document, _id left out.
func fieldNames(doc bson.Raw, into []string) []string {
	elems, err := doc.Elements()
	if err != nil {
		return into
	}
	for _, e := range elems {
		k, err := e.KeyErr()
		if err != nil || k == "_id" || !utf8.ValidString(k) || slices.Contains(into, k) || len(into) >= maxFields {
			continue
		}
		into = append(into, clip(k, 128))
	}
	return into
}

// clip returns at most n bytes of s as valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
