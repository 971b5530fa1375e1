package resp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// small limits make the caps easy to reach in tests.
var small = Limits{MaxLine: 64, MaxBulk: 32, MaxElems: 8, MaxDepth: 2, MaxBytes: 128}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"simple", "+OK\r\n", Reply{Kind: SimpleString, Str: []byte("OK")}},
		{"empty simple", "+\r\n", Reply{Kind: SimpleString}},
		{"error", "-NOAUTH Authentication required.\r\n", Reply{Kind: Error, Str: []byte("NOAUTH Authentication required.")}},
		{"integer", ":1000\r\n", Reply{Kind: Integer, Int: 1000}},
		{"negative integer", ":-42\r\n", Reply{Kind: Integer, Int: -42}},
		{"min int64", ":-9223372036854775808\r\n", Reply{Kind: Integer, Int: -1 << 63}},
		{"bulk", "$5\r\nhello\r\n", Reply{Kind: BulkString, Str: []byte("hello")}},
		{"bulk with CRLF inside", "$4\r\na\r\nb\r\n", Reply{Kind: BulkString, Str: []byte("a\r\nb")}},
		{"empty bulk", "$0\r\n\r\n", Reply{Kind: BulkString, Str: []byte{}}},
		{"null bulk", "$-1\r\n", Reply{Kind: BulkString, Null: true}},
		{"null array", "*-1\r\n", Reply{Kind: Array, Null: true}},
		{"empty array", "*0\r\n", Reply{Kind: Array, Elems: []Reply{}}},
		{"scan reply", "*2\r\n$1\r\n0\r\n*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n", Reply{Kind: Array, Elems: []Reply{
			{Kind: BulkString, Str: []byte("0")},
			{Kind: Array, Elems: []Reply{{Kind: BulkString, Str: []byte("k:1")}, {Kind: BulkString, Str: []byte("k:2")}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewReader(strings.NewReader(tt.in), small).ReadReply()
			if err != nil {
				t.Fatalf("ReadReply(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReadReply(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not RESP", "HTTP/1.1 400 Bad Request\r\n", ErrProtocol},
		{"SSH banner", "SSH-2.0-OpenSSH_9.6\r\n", ErrProtocol},
		{"LF only", "+OK\n", ErrProtocol},
		{"empty line", "\r\n", ErrProtocol},
		{"bad integer", ":12a\r\n", ErrProtocol},
		{"integer overflow", ":9223372036854775808\r\n", ErrProtocol},
		{"too many digits", ":00000000000000000001\r\n", ErrProtocol},
		{"bulk length -2", "$-2\r\n", ErrProtocol},
		{"bulk without CRLF", "$3\r\nabcXY", ErrProtocol},
		{"array length -5", "*-5\r\n", ErrProtocol},
		{"RESP3 map", "%1\r\n+a\r\n+b\r\n", ErrProtocol},
		{"bulk over cap", "$999999999\r\n", ErrLimit},
		{"bulk just over cap", "$33\r\n", ErrLimit},
		{"line over cap", "+" + strings.Repeat("a", 100) + "\r\n", ErrLimit},
		{"array over cap", "*9\r\n", ErrLimit},
		{"elements over cap across nesting", "*2\r\n*4\r\n:1\r\n:1\r\n:1\r\n:1\r\n*4\r\n", ErrLimit},
		{"too deep", "*1\r\n*1\r\n*1\r\n", ErrLimit},
		{"reply over byte cap", "*4\r\n$30\r\n" + strings.Repeat("a", 30) + "\r\n$30\r\n" + strings.Repeat("a", 30) +
			"\r\n$30\r\n" + strings.Repeat("a", 30) + "\r\n$30\r\n", ErrLimit},
		{"truncated bulk", "$10\r\nabc", io.ErrUnexpectedEOF},
		{"truncated line", "+OK", io.ErrUnexpectedEOF},
		{"truncated array", "*2\r\n:1\r\n", io.EOF},
		{"empty input", "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.in), small).ReadReply()
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadReply(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestReadReplySequence(t *testing.T) {
	// Budgets are per reply: many small replies in a row are fine.
	in := strings.Repeat("$20\r\n"+strings.Repeat("x", 20)+"\r\n", 50)
	rd := NewReader(strings.NewReader(in), small)
	for i := range 50 {
		r, err := rd.ReadReply()
		if err != nil || len(r.Str) != 20 {
			t.Fatalf("reply %d: %+v, %v", i, r, err)
		}
	}
	if _, err := rd.ReadReply(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last reply: %v, want EOF", err)
	}
}

// endless yields prefix and then fill, forever.
type endless struct {
	prefix []byte
	fill   byte
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.fill
	}
	return len(p), nil
}

// TestEndlessStreams checks that a peer that never stops sending costs the
// reader no more than its caps.
func TestEndlessStreams(t *testing.T) {
	lim := DefaultLimits()
	tests := []struct {
		name   string
		prefix string
		fill   byte
		want   error
	}{
		{"huge bulk announced", "$999999999\r\n", 'A', ErrLimit},
		{"bulk at cap then garbage", "$1048576\r\n", 'A', ErrProtocol},
		{"endless line", "+", 'A', ErrLimit},
		{"endless nesting", strings.Repeat("*1\r\n", 100), '*', ErrLimit},
		{"elements past the cap", "*10000\r\n" + strings.Repeat(":1\r\n", 9999) + "*1\r\n", ':', ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := NewReader(&endless{prefix: []byte(tt.prefix), fill: tt.fill}, lim).ReadReply()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			// One bulk at most, its growth copies, the elements and the line
			// buffer: a few times MaxBulk, never the announced length.
			if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(3*lim.MaxBulk+lim.MaxElems*100); got > bound {
				t.Fatalf("allocated %d bytes, bound %d", got, bound)
			}
		})
	}
}

func TestHugeHeaderAllocs(t *testing.T) {
	lim := DefaultLimits()
	reject := func() {
		rd := NewReader(&endless{prefix: []byte("$999999999\r\n"), fill: 'A'}, lim)
		if _, err := rd.ReadReply(); !errors.Is(err, ErrLimit) {
			t.Fatalf("error = %v, want ErrLimit", err)
		}
	}
	// The reader, its line buffer and the error: nothing sized by the peer.
	// (The race detector adds an allocation or two of its own.)
	if allocs := testing.AllocsPerRun(100, reject); allocs > 16 {
		t.Errorf("%.0f allocations per rejected reply, want at most 16", allocs)
	}
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		reject()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2*uint64(lim.MaxLine)+1024 {
		t.Errorf("%d bytes per rejected reply, want about one line buffer (%d)", per, lim.MaxLine)
	}
}

func TestAppendCommand(t *testing.T) {
	got := AppendCommand(nil, "SCAN", "0", "COUNT", "100")
	want := "*4\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nCOUNT\r\n$3\r\n100\r\n"
	if string(got) != want {
		t.Fatalf("AppendCommand = %q, want %q", got, want)
	}
	// A binary key goes through unchanged.
	key := "k\r\n\x00é"
	r, err := NewReader(bytes.NewReader(AppendCommand(nil, "TYPE", key)), DefaultLimits()).ReadReply()
	if err != nil || len(r.Elems) != 2 || r.Elems[1].Text() != key {
		t.Fatalf("round trip of %q: %+v, %v", key, r, err)
	}
}

// appendReply encodes r, for the round-trip check of the fuzz target.
func appendReply(dst []byte, r Reply) []byte {
	switch r.Kind {
	case SimpleString, Error:
		return append(append(append(dst, byte(r.Kind)), r.Str...), '\r', '\n')
	case Integer:
		return append(append(dst, ':'), []byte(strconv.FormatInt(r.Int, 10)+"\r\n")...)
	case BulkString:
		if r.Null {
			return append(dst, "$-1\r\n"...)
		}
		dst = append(dst, []byte("$"+strconv.FormatInt(int64(len(r.Str)), 10)+"\r\n")...)
		return append(append(dst, r.Str...), '\r', '\n')
	case Array:
		if r.Null {
			return append(dst, "*-1\r\n"...)
		}
		dst = append(dst, []byte("*"+strconv.FormatInt(int64(len(r.Elems)), 10)+"\r\n")...)
		for _, e := range r.Elems {
			dst = appendReply(dst, e)
		}
		return dst
	}
	panic("unknown kind")
}

func FuzzReadReply(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzReadReply. The limits are small enough
	// for the fuzzer to reach every cap.
	lim := Limits{MaxLine: 256, MaxBulk: 128, MaxElems: 64, MaxDepth: 3, MaxBytes: 1024}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := NewReader(bytes.NewReader(data), lim)
		for {
			r, err := rd.ReadReply()
			if err != nil {
				return
			}
			checkLimits(t, r, lim, 1)
			// What was accepted encodes and decodes to the same reply.
			enc := appendReply(nil, r)
			again, err := NewReader(bytes.NewReader(enc), DefaultLimits()).ReadReply()
			if err != nil {
				t.Fatalf("re-reading %q: %v", enc, err)
			}
			if !equal(r, again) {
				t.Fatalf("round trip changed %+v into %+v", r, again)
			}
		}
	})
}

func checkLimits(t *testing.T, r Reply, lim Limits, depth int) {
	t.Helper()
	if len(r.Str) > max(lim.MaxBulk, lim.MaxLine) {
		t.Fatalf("string of %d bytes passed the caps", len(r.Str))
	}
	if r.Kind == Array && (depth > lim.MaxDepth || len(r.Elems) > lim.MaxElems) {
		t.Fatalf("array of %d at depth %d passed the caps", len(r.Elems), depth)
	}
	for _, e := range r.Elems {
		checkLimits(t, e, lim, depth+1)
	}
}

// equal compares replies, treating nil and empty slices alike.
func equal(a, b Reply) bool {
	if a.Kind != b.Kind || a.Null != b.Null || a.Int != b.Int || !bytes.Equal(a.Str, b.Str) || len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if !equal(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}
