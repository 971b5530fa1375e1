// Package resp reads and writes RESP2, the Redis serialization protocol, with
// explicit caps so that a hostile server costs a bounded amount of memory.
package resp

// Protocol reference: https://redis.io/docs/latest/develop/reference/protocol-spec/
// Only RESP2 is read: a client that never sends HELLO 3 never gets RESP3 types.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Kind is the type byte that starts a reply.
type Kind byte

// The RESP2 reply kinds.
const (
	SimpleString Kind = '+'
	Error        Kind = '-'
	Integer      Kind = ':'
	BulkString   Kind = '$'
	Array        Kind = '*'
)

// String names the kind for error messages.
func (k Kind) String() string {
	switch k {
	case SimpleString:
		return "simple string"
	case Error:
		return "error"
	case Integer:
		return "integer"
	case BulkString:
		return "bulk string"
	case Array:
		return "array"
	}
	return "kind " + strconv.Quote(string(rune(k)))
}

// Reply is one decoded reply.
type Reply struct {
	Kind Kind
	// Null is set for the null bulk string ($-1) and the null array (*-1).
	Null bool
	// Int is the value of an integer reply.
	Int int64
	// Str holds the bytes of a simple string, an error or a bulk string.
	Str []byte
	// Elems are the elements of an array.
	Elems []Reply
}

// Text returns Str as a string.
func (r Reply) Text() string { return string(r.Str) }

// Errors the reader returns. After any error the stream is out of step and the
// connection must be dropped.
var (
	// ErrProtocol means the bytes are not well-formed RESP2.
	ErrProtocol = errors.New("resp: protocol error")
	// ErrLimit means a reply exceeds one of the reader's Limits.
	ErrLimit = errors.New("resp: limit exceeded")
)

// Limits bound what a single reply may cost. Every field must be positive.
type Limits struct {
	// MaxLine is the longest simple string, error or header line, CRLF included.
	MaxLine int
	// MaxBulk is the longest bulk string.
	MaxBulk int
	// MaxElems is the most array elements in one reply, nested ones included.
	MaxElems int
	// MaxDepth is the deepest nesting of arrays (a flat array has depth 1).
	MaxDepth int
	// MaxBytes is the most bytes one reply may take on the wire.
	MaxBytes int
}

// DefaultLimits suit a probe: room for INFO and SCAN answers, nothing more.
func DefaultLimits() Limits {
	return Limits{
		MaxLine:  4 << 10,
		MaxBulk:  1 << 20,
		MaxElems: 10_000,
		MaxDepth: 4,
		MaxBytes: 4 << 20,
	}
}

// Reader decodes replies from a stream.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	// Per-reply budgets.
	bytes int
	elems int
}

// NewReader returns a Reader on r that enforces lim.
func NewReader(r io.Reader, lim Limits) *Reader {
	// ReadSlice must see a whole line in its buffer; the buffer is the line cap.
	return &Reader{br: bufio.NewReaderSize(r, max(lim.MaxLine, 16)), lim: lim}
}

// ReadReply reads one reply. Memory use is bounded by the Limits, whatever
// lengths the peer announces.
func (r *Reader) ReadReply() (Reply, error) {
	r.bytes, r.elems = 0, 0
	return r.read(0)
}

func (r *Reader) read(depth int) (Reply, error) {
	line, err := r.line()
	if err != nil {
		return Reply{}, err
	}
	kind, body := Kind(line[0]), line[1:]
	switch kind {
	case SimpleString, Error:
		return Reply{Kind: kind, Str: append([]byte(nil), body...)}, nil
	case Integer:
		n, err := parseInt(body)
		if err != nil {
			return Reply{}, fmt.Errorf("integer reply: %w", err)
		}
		return Reply{Kind: kind, Int: n}, nil
	case BulkString:
		n, err := parseInt(body)
		if err != nil {
			return Reply{}, fmt.Errorf("bulk length: %w", err)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		if n < 0 {
			return Reply{}, fmt.Errorf("%w: bulk length %d", ErrProtocol, n)
		}
		if n > int64(r.lim.MaxBulk) {
			return Reply{}, fmt.Errorf("%w: bulk length %d over %d", ErrLimit, n, r.lim.MaxBulk)
		}
		if int64(r.bytes)+n+2 > int64(r.lim.MaxBytes) {
			return Reply{}, fmt.Errorf("%w: reply over %d bytes", ErrLimit, r.lim.MaxBytes)
		}
		b, err := r.bulk(int(n))
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: kind, Str: b}, nil
	case Array:
		n, err := parseInt(body)
		if err != nil {
			return Reply{}, fmt.Errorf("array length: %w", err)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		if n < 0 {
			return Reply{}, fmt.Errorf("%w: array length %d", ErrProtocol, n)
		}
		if depth+1 > r.lim.MaxDepth {
			return Reply{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrLimit, r.lim.MaxDepth)
		}
		if n > int64(r.lim.MaxElems-r.elems) {
			return Reply{}, fmt.Errorf("%w: more than %d array elements", ErrLimit, r.lim.MaxElems)
		}
		r.elems += int(n)
		// Grow as elements arrive rather than trusting the announced count.
		elems := make([]Reply, 0, min(n, 16))
		for range n {
			e, err := r.read(depth + 1)
			if err != nil {
				return Reply{}, err
			}
			elems = append(elems, e)
		}
		return Reply{Kind: kind, Elems: elems}, nil
	}
	return Reply{}, fmt.Errorf("%w: unexpected type byte %q", ErrProtocol, line[0])
}

// line returns the next line without its CRLF. The slice is only valid until
// the next read.
func (r *Reader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > r.lim.MaxLine {
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrLimit, r.lim.MaxLine)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if r.bytes += len(b); r.bytes > r.lim.MaxBytes {
		return nil, fmt.Errorf("%w: reply over %d bytes", ErrLimit, r.lim.MaxBytes)
	}
	if len(b) < 3 || b[len(b)-2] != '\r' {
		return nil, fmt.Errorf("%w: malformed line %q", ErrProtocol, clip(b))
	}
	return b[:len(b)-2], nil
}

// bulk reads n bytes and the CRLF after them. The buffer grows with the bytes
// that actually arrive, so a peer that announces a length and sends less
// costs only what it sent.
func (r *Reader) bulk(n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 4<<10))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), n))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.br.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("bulk string: %w", err)
		}
	}
	var crlf [2]byte
	if _, err := io.ReadFull(r.br, crlf[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("bulk string end: %w", err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return nil, fmt.Errorf("%w: bulk string not followed by CRLF", ErrProtocol)
	}
	r.bytes += n + 2
	return buf, nil
}

// parseInt parses a decimal int64 with an optional minus sign, strictly.
func parseInt(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("%w: bad number %q", ErrProtocol, clip(b))
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad number %q", ErrProtocol, clip(b))
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, fmt.Errorf("%w: number out of range", ErrProtocol)
		}
		return -int64(n), nil
	}
	if n > 1<<63-1 {
		return 0, fmt.Errorf("%w: number out of range", ErrProtocol)
	}
	return int64(n), nil
}

// clip shortens bytes quoted in an error message.
func clip(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// AppendCommand appends a command in the form clients send, an array of bulk
// strings, to dst.
func AppendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
