package clickhouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrProtocol marks an answer that is not what ClickHouse sends.
var ErrProtocol = errors.New("not a ClickHouse answer")

// result is a query answer in FORMAT JSON: the rows, every value as text.
// https://clickhouse.com/docs/en/interfaces/formats#json
type result struct {
	Rows []map[string]string
}

// parseResult parses FORMAT JSON. 64-bit integers come quoted by default
// (output_format_json_quote_64bit_integers), smaller numbers bare; both
// become their decimal text, and null becomes "".
func parseResult(b []byte) (result, error) {
	var doc struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return result{}, fmt.Errorf("FORMAT JSON: %v: %w", err, ErrProtocol)
	}
	if doc.Data == nil {
		return result{}, fmt.Errorf("FORMAT JSON without data: %w", ErrProtocol)
	}
	res := result{Rows: make([]map[string]string, 0, len(doc.Data))}
	for _, row := range doc.Data {
		r := make(map[string]string, len(row))
		for k, v := range row {
			r[k] = text(v)
		}
		res.Rows = append(res.Rows, r)
	}
	return res, nil
}

// text renders one JSON value as text: strings unquoted, null empty, and
// anything else (numbers, arrays, objects) as its JSON.
func text(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// count parses a row count or byte count; anything else is 0.
func count(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// exceptionCode is the code of an error answer: "Code: 516. DB::Exception:
// …" (since 2021) or "Code: 194, e.displayText() = DB::Exception: …" (before).
var exceptionCode = regexp.MustCompile(`^Code: (\d+)[.,]`)

// errorCode returns the exception code of an error answer, or 0.
func errorCode(body []byte) int {
	m := exceptionCode.FindSubmatch(bytes.TrimSpace(body))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// authCodes are the exceptions that mean the user may not log in:
// UNKNOWN_USER (192), WRONG_PASSWORD (193), REQUIRED_PASSWORD (194), IP_ADDRESS_NOT_ALLOWED (195),
// AUTHENTICATION_FAILED (516).
// https://github.com/ClickHouse/ClickHouse/blob/master/src/Common/ErrorCodes.cpp
func authCode(code int) bool {
	switch code {
	case 192, 193, 194, 195, 516:
		return true
	}
	return false
}

// errorText is the message of an error answer, one bounded line.
func errorText(body []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(body), []byte("\n"))
	s := strings.ToValidUTF8(string(line), "")
	if len(s) > detailMax {
		s = strings.ToValidUTF8(s[:detailMax], "")
	}
	return s
}

// quoteIdent quotes an identifier in backticks, escaping what the server
// escapes there. https://clickhouse.com/docs/en/sql-reference/syntax#identifiers
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}
