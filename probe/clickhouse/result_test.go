package clickhouse

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

func TestParseResult(t *testing.T) {
	b := []byte(`{"meta":[{"name":"rows","type":"UInt64"}],"data":[{"db":"police","rows":"3000","n":7,"x":null,"a":[1,2]}],"rows":1}`)
	r, err := parseResult(b)
	if err != nil || len(r.Rows) != 1 {
		t.Fatalf("parseResult = %+v, %v", r, err)
	}
	row := r.Rows[0]
	if row["db"] != "police" || row["rows"] != "3000" || row["n"] != "7" || row["x"] != "" || row["a"] != "[1,2]" {
		t.Errorf("row %v", row)
	}
	for _, bad := range []string{"Ok.\n", `{"meta":[]}`, `[1]`, ``} {
		if _, err := parseResult([]byte(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseResult(%q) = %v, want ErrProtocol", bad, err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	tests := map[string]int{
		"Code: 194, e.displayText() = DB::Exception: Password required for user default, e.what() = DB::Exception\n": 194,
		"Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)":                          516,
		"Code: 47, e.displayText() = DB::Exception: Unknown identifier: total_rows":                                  47,
		"Oops": 0, "": 0, "Code: x.": 0,
	}
	for in, want := range tests {
		if got := errorCode([]byte(in)); got != want {
			t.Errorf("errorCode(%q) = %d, want %d", in, got, want)
		}
	}
	if !authCode(516) || !authCode(194) || authCode(47) {
		t.Error("authCode misjudges")
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{"police": "`police`", "a`b": "`a\\`b`", `c\d`: "`c\\\\d`"} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadHandshake(t *testing.T) {
	// ClickHouse 18.16 answering a revision-54060 Hello.
	b := []byte("\x00\x0aClickHouse\x12\x10\xad\xa8\x03\x0dAsia/Shanghai")
	si, ex, err := readHandshake(bufio.NewReader(bytes.NewReader(b)))
	if err != nil || ex != nil || si.Name != "ClickHouse" || si.Major != 18 || si.Minor != 16 || si.Revision != 54317 || si.TimeZone != "Asia/Shanghai" {
		t.Fatalf("readHandshake = %+v, %+v, %v", si, ex, err)
	}
	b = []byte("\x02\xc2\x00\x00\x00\x0dDB::Exception\x23Password required for user default.\x00\x00")
	si, ex, err = readHandshake(bufio.NewReader(bytes.NewReader(b)))
	if err != nil || si != nil || ex.Code != 194 || ex.Name != "DB::Exception" {
		t.Fatalf("readHandshake exception = %+v, %+v, %v", si, ex, err)
	}
}

// FuzzParseResult: no answer body may panic the JSON reader.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte(`{"data":[{"database":"police","rows":"3000"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseResult(b)
		if err == nil && r.Rows == nil {
			t.Fatal("no rows and no error")
		}
		errorCode(b)
		errorText(b)
	})
}

// FuzzReadHandshake: no answer to Hello may panic the reader or make it
// allocate past maxString.
func FuzzReadHandshake(f *testing.F) {
	f.Add([]byte("\x00\x0aClickHouse\x12\x10\xad\xa8\x03\x0dAsia/Shanghai"))
	f.Fuzz(func(t *testing.T, b []byte) {
		si, ex, err := readHandshake(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && (si == nil) == (ex == nil) {
			t.Fatalf("readHandshake = %v, %v, nil", si, ex)
		}
	})
}
