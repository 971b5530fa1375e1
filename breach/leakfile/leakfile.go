// Package leakfile reads leaked datasets — CSV, TSV or JSON Lines, plain or
// gzip-compressed — one row at a time, in memory bounded by the longest row.
package leakfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is the layout of a leak file.
type Format string

// The formats read.
const (
	CSV   Format = "csv"   // RFC 4180: comma-separated, double quotes
	TSV   Format = "tsv"   // tab-separated, no quoting
	JSONL Format = "jsonl" // one JSON object per line
)

// ParseFormat returns the format named s ("" means detect).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case "", CSV, TSV, JSONL:
		return f, nil
	case "ndjson", "json":
		return JSONL, nil
	}
	return "", fmt.Errorf("unknown format %q: use csv, tsv or jsonl", s)
}

// Options tune a Reader.
type Options struct {
	// Format is the layout; empty detects it from the first line.
	Format Format
	// MaxRow bounds one row in bytes (default 1 MiB); a longer row is
	// reported as malformed and skipped.
	MaxRow int
}

// Row is one record of a leak.
type Row struct {
	// Line is the line the row starts on, from 1 (the header is line 1 in
	// CSV and TSV).
	Line int
	// Values holds the selected columns, "" where a column is empty or
	// absent.
	Values []string
	// BadEncoding is set when the row is not valid UTF-8 (a GBK or Latin-1
	// dump): its ASCII values are still usable.
	BadEncoding bool
}

// RowError reports a malformed row; reading can go on.
type RowError struct {
	Line   int
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// InputError reports input that cannot be read further: a gzip stream that
// ends early or is corrupt, or a failing read.
type InputError struct {
	// Line is the last line read completely.
	Line int
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("input unreadable after line %d: %v", e.Line, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// ErrUTF16 is returned for input that starts with a UTF-16 byte order mark.
var ErrUTF16 = errors.New("input is UTF-16: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)")

// Reader reads rows of a leak file.
type Reader struct {
	br         *bufio.Reader
	format     Format
	compressed bool
	maxRow     int
	header     []string
	selected   []string
	index      []int // CSV/TSV: field index of each selected column
	line       int   // lines consumed
	rec        []byte
	fields     [][]byte
	first      []byte // JSONL: the first line, read to learn the keys
	firstLine  int
}

// NewReader detects compression and format, and reads the header: the first
// line of a CSV or TSV file, the keys of the first object of JSON Lines.
func NewReader(r io.Reader, opt Options) (*Reader, error) {
	if opt.MaxRow <= 0 {
		opt.MaxRow = 1 << 20
	}
	rd := &Reader{maxRow: opt.MaxRow, format: opt.Format}
	// A small buffer to look at the magic bytes; reads into the large
	// buffers below bypass it.
	var src io.Reader
	br := bufio.NewReaderSize(r, 16)
	src = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("read gzip header: %w", err)}
		}
		rd.compressed = true
		src = zr
	}
	// Rows are read with ReadSlice, so the buffer bounds a line.
	rd.br = bufio.NewReaderSize(src, max(opt.MaxRow+1, 4096))
	bom, _ := rd.br.Peek(3)
	switch {
	case bytes.HasPrefix(bom, []byte{0xEF, 0xBB, 0xBF}):
		rd.br.Discard(3)
	case bytes.HasPrefix(bom, []byte{0xFF, 0xFE}), bytes.HasPrefix(bom, []byte{0xFE, 0xFF}):
		return nil, ErrUTF16
	}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Format returns the format read.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the input was gzip-compressed.
func (r *Reader) Compressed() bool { return r.compressed }

// Header returns the column names: the header row of CSV and TSV, the keys of
// the first object of JSON Lines.
func (r *Reader) Header() []string { return r.header }

// Select chooses the columns whose values Next returns, by name as in
// Header (JSON Lines also accepts keys absent from the first object).
func (r *Reader) Select(cols ...string) error {
	r.selected = cols
	r.index = r.index[:0]
	if r.format == JSONL {
		return nil
	}
	for _, c := range cols {
		i := indexOf(r.header, c)
		if i < 0 {
			return fmt.Errorf("no column %q in the header (%s)", c, strings.Join(r.header, ", "))
		}
		r.index = append(r.index, i)
	}
	return nil
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// readLine returns the next physical line without its end of line, ok=false
// at the end of input. A line longer than MaxRow is skipped and reported.
func (r *Reader) readLine() (line []byte, ok bool, err error) {
	b, err := r.br.ReadSlice('\n')
	switch {
	case err == nil:
		r.line++
		return r.capped(trimEOL(b))
	case errors.Is(err, bufio.ErrBufferFull):
		r.line++
		start := r.line
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, false, &InputError{Line: start - 1, Err: err}
		}
		return nil, true, &RowError{Line: start, Reason: fmt.Sprintf("longer than %d bytes", r.maxRow)}
	case err == io.EOF:
		if len(b) == 0 {
			return nil, false, nil
		}
		r.line++
		return r.capped(trimEOL(b))
	default:
		// A truncated or corrupt gzip stream: the partial line is dropped.
		return nil, false, &InputError{Line: r.line, Err: err}
	}
}

// capped refuses a line longer than MaxRow that fitted in the buffer.
func (r *Reader) capped(line []byte) ([]byte, bool, error) {
	if len(line) > r.maxRow {
		return nil, true, &RowError{Line: r.line, Reason: fmt.Sprintf("longer than %d bytes", r.maxRow)}
	}
	return line, true, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

func (r *Reader) readHeader() error {
	for {
		line, ok, err := r.readLine()
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				return fmt.Errorf("read header: %w", err)
			}
			return err
		}
		if !ok {
			return fmt.Errorf("read header: the input is empty")
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if r.format == "" {
			r.format = detect(line)
		}
		switch r.format {
		case JSONL:
			keys, err := objectKeys(line)
			if err != nil {
				return fmt.Errorf("read line %d: %v", r.line, err)
			}
			r.header = keys
			r.first = append([]byte(nil), line...)
			r.firstLine = r.line
			return nil
		case TSV:
			r.fields = splitTSV(r.fields[:0], line)
		default:
			r.rec = append(r.rec[:0], line...)
			fs, err := r.splitCSV()
			if err != nil {
				return fmt.Errorf("read header: %w", err)
			}
			r.fields = fs
		}
		for _, f := range r.fields {
			r.header = append(r.header, strings.TrimSpace(string(f)))
		}
		return nil
	}
}

func detect(line []byte) Format {
	if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '{' {
		return JSONL
	}
	if tabs := bytes.Count(line, []byte{'\t'}); tabs > 0 && tabs >= bytes.Count(line, []byte{','}) {
		return TSV
	}
	return CSV
}

// Next returns the next row. At the end of input it returns io.EOF. A
// *RowError reports a malformed row and reading can go on; any other error
// ends the input.
func (r *Reader) Next() (Row, error) {
	if r.first != nil {
		line, n := r.first, r.firstLine
		r.first = nil
		return r.jsonRow(n, line)
	}
	for {
		line, ok, err := r.readLine()
		if err != nil {
			return Row{}, err
		}
		if !ok {
			return Row{}, io.EOF
		}
		if len(line) == 0 {
			continue
		}
		switch r.format {
		case JSONL:
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return r.jsonRow(r.line, line)
		case TSV:
			r.fields = splitTSV(r.fields[:0], line)
			return r.fieldRow(r.line, utf8.Valid(line))
		default:
			start := r.line
			r.rec = append(r.rec[:0], line...)
			fs, err := r.splitCSV()
			if err != nil {
				return Row{}, err
			}
			r.fields = fs
			return r.fieldRow(start, utf8.Valid(r.rec))
		}
	}
}

func (r *Reader) fieldRow(line int, validUTF8 bool) (Row, error) {
	if len(r.fields) != len(r.header) {
		return Row{}, &RowError{Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(r.fields), len(r.header))}
	}
	row := Row{Line: line, Values: make([]string, len(r.index)), BadEncoding: !validUTF8}
	for i, fi := range r.index {
		row.Values[i] = string(bytes.TrimSpace(r.fields[fi]))
	}
	return row, nil
}

func splitTSV(dst [][]byte, line []byte) [][]byte {
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

// splitCSV splits the record in r.rec into fields (RFC 4180). A quoted field
// may span lines: the following lines are appended to r.rec up to MaxRow.
// Fields alias r.rec.
func (r *Reader) splitCSV() ([][]byte, error) {
	start := r.line
	fields := r.fields[:0]
	out := r.rec[:0:0] // unquoted copies of quoted fields go to fresh memory
	pos := 0
	for {
		rest := r.rec[pos:]
		if len(rest) == 0 || rest[0] != '"' {
			// Unquoted field: up to the next comma. A stray quote inside it
			// is kept as it is, as most dump tools write them.
			i := bytes.IndexByte(rest, ',')
			if i < 0 {
				return append(fields, rest), nil
			}
			fields = append(fields, rest[:i])
			pos += i + 1
			continue
		}
		// Quoted field.
		out = out[:0]
		i := pos + 1
		for {
			j := bytes.IndexByte(r.rec[i:], '"')
			if j < 0 {
				// The field goes on on the next line.
				out = append(out, r.rec[i:]...)
				out = append(out, '\n')
				line, ok, err := r.readLine()
				if err != nil {
					var re *RowError
					if errors.As(err, &re) {
						return nil, &RowError{Line: start, Reason: "quoted field runs into a line that is too long"}
					}
					return nil, err
				}
				if !ok || len(r.rec)+len(line) > r.maxRow {
					return nil, &RowError{Line: start, Reason: "quoted field is never closed"}
				}
				i = len(r.rec)
				r.rec = append(r.rec, line...)
				continue
			}
			out = append(out, r.rec[i:i+j]...)
			i += j + 1
			if i < len(r.rec) && r.rec[i] == '"' {
				out = append(out, '"')
				i++
				continue
			}
			break
		}
		fields = append(fields, append([]byte(nil), out...))
		switch {
		case i == len(r.rec):
			return fields, nil
		case r.rec[i] == ',':
			pos = i + 1
		default:
			return nil, &RowError{Line: start, Reason: fmt.Sprintf("text after the closing quote of field %d", len(fields))}
		}
	}
}

func (r *Reader) jsonRow(line int, b []byte) (Row, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return Row{}, &RowError{Line: line, Reason: "not a JSON object: " + jsonReason(err)}
	}
	row := Row{Line: line, Values: make([]string, len(r.selected)), BadEncoding: !utf8.Valid(b)}
	for i, c := range r.selected {
		row.Values[i] = jsonScalar(obj[c])
	}
	return row, nil
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}

// jsonScalar returns a string's value or a number's literal; "" for anything
// else.
func jsonScalar(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	case c == '-' || (c >= '0' && c <= '9'):
		return string(v)
	}
	return ""
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(b []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
	}
	return keys, nil
}
