package leakfile_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/lab/fake"
)

type result struct {
	rows      [][]string
	lines     []int
	malformed []int
	badEnc    []int
}

func readAll(t *testing.T, in string, cols ...string) (result, error) {
	t.Helper()
	r, err := leakfile.NewReader(strings.NewReader(in), leakfile.Options{MaxRow: 64})
	if err != nil {
		return result{}, err
	}
	if err := r.Select(cols...); err != nil {
		return result{}, err
	}
	var res result
	for {
		row, err := r.Next()
		if err == io.EOF {
			return res, nil
		}
		var re *leakfile.RowError
		if errors.As(err, &re) {
			res.malformed = append(res.malformed, re.Line)
			continue
		}
		if err != nil {
			return res, err
		}
		res.rows = append(res.rows, row.Values)
		res.lines = append(res.lines, row.Line)
		if row.BadEncoding {
			res.badEnc = append(res.badEnc, row.Line)
		}
	}
}

func TestRows(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name string
		in   string
		cols []string
		want result
	}{
		{"csv", "name,phone\n张伟,13812345678\n李娜,13912345678\n", []string{"phone"},
			result{rows: [][]string{{"13812345678"}, {"13912345678"}}, lines: []int{2, 3}}},
		{"crlf and bom", "\ufeffname,phone\r\n张伟,13812345678\r\n", []string{"phone", "name"},
			result{rows: [][]string{{"13812345678", "张伟"}}, lines: []int{2}}},
		{"quoted", "name,phone,address\n\"Wang, Wei\",\"138 1234 5678\",\"a \"\"b\"\" c\"\n", []string{"address", "name"},
			result{rows: [][]string{{`a "b" c`, "Wang, Wei"}}, lines: []int{2}}},
		{"multi-line quoted", "name,address,phone\n王,\"line one\nline two\",13812345678\n李,x,13912345678\n", []string{"phone"},
			result{rows: [][]string{{"13812345678"}, {"13912345678"}}, lines: []int{2, 4}}},
		{"never closed", "name,phone\n王,\"13812345678\n李,13912345678\n", []string{"phone"},
			result{malformed: []int{2}}},
		{"text after quote", "name,phone\n\"王\"x,13812345678\n李,13912345678\n", []string{"phone"},
			result{rows: [][]string{{"13912345678"}}, lines: []int{3}, malformed: []int{2}}},
		{"field count", "name,phone\n王\n李,139,extra\n赵,13712345678\n", []string{"phone"},
			result{rows: [][]string{{"13712345678"}}, lines: []int{4}, malformed: []int{2, 3}}},
		{"blank lines", "name,phone\n\n王,138\n\n", []string{"phone"},
			result{rows: [][]string{{"138"}}, lines: []int{3}}},
		{"too long", "name,phone\n" + long + ",1\n王,2\n", []string{"phone"},
			result{rows: [][]string{{"2"}}, lines: []int{3}, malformed: []int{2}}},
		{"no final newline", "name,phone\n王,138", []string{"phone"},
			result{rows: [][]string{{"138"}}, lines: []int{2}}},
		{"gbk bytes", "name,phone\n\xd5\xc5\xce\xb0,13812345678\n", []string{"phone"},
			result{rows: [][]string{{"13812345678"}}, lines: []int{2}, badEnc: []int{2}}},
		{"tsv", "name\tphone\n王\t 138 \n", []string{"phone"},
			result{rows: [][]string{{"138"}}, lines: []int{2}}},
		{"jsonl", "{\"name\":\"王\",\"phone\":13812345678}\n{\"phone\":\"139\"}\n[1]\n{\"name\":null}\n{bad\n", []string{"phone"},
			result{rows: [][]string{{"13812345678"}, {"139"}, {""}}, lines: []int{1, 2, 4}, malformed: []int{3, 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in, tc.cols...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"blank", "\n\n", "empty"},
		{"utf-16", "\xff\xfen\x00a\x00", "UTF-16"},
		{"bad json", "{\"a\":\n", "line 1"},
	} {
		_, err := readAll(t, tc.in, "phone")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one that mentions %q", tc.name, err, tc.want)
		}
	}
	_, err := readAll(t, "name,phone\n", "mobile")
	if err == nil || !strings.Contains(err.Error(), "mobile") {
		t.Errorf("missing column: error %v", err)
	}
}

// TestGeneratedLeaks reads a fictional leak in every format, plain and
// gzip-compressed, and checks every row against the generator.
func TestGeneratedLeaks(t *testing.T) {
	for _, f := range []leakfile.Format{leakfile.CSV, leakfile.TSV, leakfile.JSONL} {
		for _, gz := range []bool{false, true} {
			o := leakgen.Options{Format: f, Gzip: gz, Seed: 5, First: 1, Rows: 3000, Chinese: f == leakfile.TSV}
			var buf bytes.Buffer
			if _, err := leakgen.Write(&buf, o); err != nil {
				t.Fatal(err)
			}
			r, err := leakfile.NewReader(&buf, leakfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != f || r.Compressed() != gz {
				t.Errorf("%s gzip=%v: detected %s gzip=%v", f, gz, r.Format(), r.Compressed())
			}
			h := leakgen.Header(o)
			if !reflect.DeepEqual(r.Header(), h) {
				t.Errorf("%s: header %q, want %q", f, r.Header(), h)
			}
			if err := r.Select(h[1], h[2], h[4]); err != nil {
				t.Fatal(err)
			}
			g := fake.New(5)
			n := 0
			for {
				row, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s gzip=%v: %v", f, gz, err)
				}
				n++
				_, phone, id, _, addr := leakgen.Person(g, n)
				if want := []string{phone, id, addr}; !reflect.DeepEqual(row.Values, want) {
					t.Fatalf("%s gzip=%v row %d: %q, want %q", f, gz, n, row.Values, want)
				}
			}
			if n != o.Rows {
				t.Errorf("%s gzip=%v: %d rows, want %d", f, gz, n, o.Rows)
			}
		}
	}
}

// TestTruncatedGzip cuts a compressed leak short: the rows before the cut
// are read, then an InputError names the last complete line.
func TestTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	if _, err := leakgen.Write(&buf, leakgen.Options{Format: leakfile.CSV, Gzip: true, Seed: 1, First: 1, Rows: 20000}); err != nil {
		t.Fatal(err)
	}
	cut := buf.Bytes()[:buf.Len()/2]
	r, err := leakfile.NewReader(bytes.NewReader(cut), leakfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Select("phone")
	n := 0
	for {
		row, err := r.Next()
		if err == nil {
			n++
			if row.Line != n+1 {
				t.Fatalf("row %d on line %d", n, row.Line)
			}
			continue
		}
		var ie *leakfile.InputError
		if !errors.As(err, &ie) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v, want an InputError wrapping io.ErrUnexpectedEOF", err)
		}
		if ie.Line != n+1 || n == 0 || n >= 20000 {
			t.Errorf("error after line %d, %d rows read", ie.Line, n)
		}
		return
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("name,phone\n王,\"138\"\"1\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := leakfile.NewReader(bytes.NewReader(in), leakfile.Options{MaxRow: 128})
		if err != nil {
			return
		}
		if h := r.Header(); len(h) > 0 {
			if err := r.Select(h[len(h)-1]); err != nil {
				t.Fatalf("select a header column: %v", err)
			}
		}
		last := 0
		for range len(in) + 2 {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			var re *leakfile.RowError
			if errors.As(err, &re) {
				if re.Line <= last && last > 0 {
					t.Fatalf("malformed row on line %d after line %d", re.Line, last)
				}
				last = re.Line
				continue
			}
			if err != nil {
				return
			}
			if row.Line <= last {
				t.Fatalf("row on line %d after line %d", row.Line, last)
			}
			last = row.Line
			for _, v := range row.Values {
				if len(v) > 128 {
					t.Fatalf("value of %d bytes with MaxRow 128", len(v))
				}
			}
		}
		t.Fatalf("more rows than bytes")
	})
}
