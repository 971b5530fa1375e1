package influxdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The answers of InfluxDB 1.x's /query endpoint: a JSON object with one
// result per statement, each holding series of columns and rows.
// https://docs.influxdata.com/influxdb/v1/tools/api/#query-http-endpoint

// answer is a decoded /query answer.
type answer struct {
	Results []result `json:"results"`
	Error   string   `json:"error"`
}

type result struct {
	Series []series `json:"series"`
	Error  string   `json:"error"`
}

type series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// errNotInflux is returned when an answer is not InfluxDB's.
var errNotInflux = errors.New("not an InfluxDB /query answer")

// parseAnswer decodes a /query answer. An answer with a top-level error (an
// authentication failure, an unparsable query) decodes without error: the
// caller reads Error.
func parseAnswer(body []byte) (*answer, error) {
	var a answer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotInflux, err)
	}
	if a.Results == nil && a.Error == "" {
		return nil, fmt.Errorf("no results and no error: %w", errNotInflux)
	}
	return &a, nil
}

// first returns the only statement's result.
func (a *answer) first() (*result, error) {
	if a.Error != "" {
		return nil, fmt.Errorf("server error: %s", clip(a.Error, 200))
	}
	if len(a.Results) != 1 {
		return nil, fmt.Errorf("%d results for one statement: %w", len(a.Results), errNotInflux)
	}
	r := &a.Results[0]
	if r.Error != "" {
		return nil, fmt.Errorf("statement error: %s", clip(r.Error, 200))
	}
	return r, nil
}

// column returns the string values of one column of a series, at most max.
func (s *series) column(name string, max int) []string {
	i := -1
	for j, c := range s.Columns {
		if c == name {
			i = j
			break
		}
	}
	if i < 0 {
		return nil
	}
	var out []string
	for _, row := range s.Values {
		if len(out) >= max {
			break
		}
		if i < len(row) {
			if v, ok := row[i].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// count returns the first value of a column as a non-negative integer.
func (s *series) count(name string) (int64, bool) {
	for j, c := range s.Columns {
		if c != name || len(s.Values) == 0 || j >= len(s.Values[0]) {
			continue
		}
		n, ok := s.Values[0][j].(json.Number)
		if !ok {
			return 0, false
		}
		v, err := n.Int64()
		if err != nil {
			if f, ferr := n.Float64(); ferr == nil && f >= 0 && f < 1<<62 {
				return int64(f), true
			}
			return 0, false
		}
		return v, v >= 0
	}
	return 0, false
}

// rows turns a series' rows into sample records, at most max of them.
func (s *series) rows(max int) []map[string]string {
	var out []map[string]string
	for _, row := range s.Values {
		if len(out) >= max {
			break
		}
		doc := map[string]string{}
		for j, c := range s.Columns {
			if j >= len(row) || j >= maxSampleFields || row[j] == nil {
				continue
			}
			var v string
			switch x := row[j].(type) {
			case string:
				v = x
			case json.Number:
				v = x.String()
			case bool:
				v = strconv.FormatBool(x)
			default:
				continue
			}
			doc[clip(c, 128)] = clip(v, maxSampleValue)
		}
		out = append(out, doc)
	}
	return out
}

// Bounds on a sample.
const (
	maxSampleFields = 64
	maxSampleValue  = 1024
)

// quoteIdent quotes a database or measurement name as an InfluxQL
// identifier. Names with control characters are refused: no name read from
// a server may change the statement it is put in.
// https://docs.influxdata.com/influxdb/v1/query_language/spec/#identifiers
func quoteIdent(name string) (string, bool) {
	if name == "" || len(name) > 255 {
		return "", false
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", false
		}
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(name) + `"`, true
}

// clip returns at most n bytes of s as valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
