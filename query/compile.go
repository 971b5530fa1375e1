package query

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a field's values.
type Kind int

// The kinds of fields.
const (
	KindText     Kind = iota // matched exactly or with * wildcards, case-insensitive
	KindInt                  // compared as a number
	KindSize                 // a number of bytes: 1GB, 500MiB
	KindTime                 // 2026-01-01, RFC 3339
	KindDuration             // 30d, 12h
	KindAddr                 // an address, CIDR or range
	KindBool                 // true / false
	KindMulti                // one of several values of the exposure (classes, datasets, …)
)

// Field describes one searchable field.
type Field struct {
	Name string
	Kind Kind
	Help string
	// Fold says how stores keep a text field's values so that it compares
	// without a function on the column (which would defeat its index).
	Fold Fold
}

// Fold is how a text field's values are stored.
type Fold int

// The folds.
const (
	FoldNone  Fold = iota // as found: compared with lower() on both sides
	FoldLower             // stored lower case
	FoldUpper             // stored upper case (country codes)
)

// Fields are the searchable fields, in the order `--help` shows them.
var Fields = []Field{
	{Name: "ip", Kind: KindAddr, Help: "address, CIDR or range: ip:47.100.0.0/14"},
	{Name: "port", Kind: KindInt, Help: "port: port:9200, port>=9000"},
	{Name: "protocol", Kind: KindText, Fold: FoldLower, Help: "elasticsearch, redis, mysql, …"},
	{Name: "plugin", Kind: KindText, Fold: FoldLower, Help: "the probe that gave the verdict"},
	{Name: "product", Kind: KindText, Help: "product the server names"},
	{Name: "version", Kind: KindText, Help: "version: version:7.*"},
	{Name: "status", Kind: KindText, Fold: FoldLower, Help: "exposed, protected, open, closed, wiped"},
	{Name: "severity", Kind: KindText, Fold: FoldLower, Help: "critical, high, medium, low, info"},
	{Name: "class", Kind: KindMulti, Help: "data class: phone, cn_resident_id, address, …"},
	{Name: "provider", Kind: KindText, Fold: FoldLower, Help: "hosting provider: alibaba, aws, …"},
	{Name: "hosting", Kind: KindText, Fold: FoldLower, Help: "managed-service, customer-instance, unknown"},
	{Name: "asn", Kind: KindInt, Help: "autonomous system: asn:37963 or AS37963"},
	{Name: "country", Kind: KindText, Fold: FoldUpper, Help: "two-letter country code"},
	{Name: "org", Kind: KindText, Help: "organisation owning the address"},
	{Name: "name", Kind: KindMulti, Help: "certificate or host name: name:*.aliyuncs.com"},
	{Name: "dataset", Kind: KindMulti, Help: "dataset (index, table, …) name"},
	{Name: "field", Kind: KindMulti, Help: "field or column name"},
	{Name: "records", Kind: KindInt, Help: "records exposed: records>100000, records>1M"},
	{Name: "bytes", Kind: KindSize, Help: "bytes exposed: bytes>=1GB"},
	{Name: "ransom", Kind: KindBool, Help: "a ransom note was found: ransom:true"},
	{Name: "first_seen", Kind: KindTime, Help: "first seen: first_seen<2026-01-01"},
	{Name: "last_seen", Kind: KindTime, Help: "last seen"},
	{Name: "closed_at", Kind: KindTime, Help: "closed at"},
	{Name: "open_for", Kind: KindDuration, Help: "how long it is (or was) open: open_for>30d"},
	{Name: "disclosure", Kind: KindText, Fold: FoldLower, Help: "new, triaged, notified, acknowledged, fixed, ignored"},
}

// FieldByName finds a field.
func FieldByName(name string) (Field, bool) {
	i := slices.IndexFunc(Fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return Fields[i], true
}

// Dialect tells the compiler how a store spells things.
type Dialect struct {
	// Placeholder renders the n-th parameter (1-based): "?" or "$n".
	Placeholder func(n int) string
	// Column is the SQL expression of a scalar field ("e.port").
	Column func(field string) string
	// Terms renders a condition on a multi-valued field: cond is a
	// condition on the SQL expression "t.value".
	Terms func(field, cond string) string
	// Lower lowercases an expression for case-insensitive matching.
	Lower func(expr string) string
	// Addr encodes an address for comparison with the ip column.
	Addr func(netip.Addr) any
	// Time encodes a time for comparison with the time columns.
	Time func(time.Time) any
	// Seconds encodes a duration for comparison with Column("open_for").
	Seconds func(time.Duration) any
}

// Compiled is a WHERE clause and its parameters.
type Compiled struct {
	Where string
	Args  []any
}

// Compile turns a query tree into a WHERE clause for d. now anchors
// relative times. A nil tree compiles to "1=1".
func Compile(n Node, d Dialect, now time.Time) (Compiled, error) {
	c := &compiler{d: d, now: now}
	if n == nil {
		return Compiled{Where: "1=1"}, nil
	}
	w, err := c.node(n)
	if err != nil {
		return Compiled{}, err
	}
	return Compiled{Where: w, Args: c.args}, nil
}

type compiler struct {
	d    Dialect
	now  time.Time
	args []any
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return c.d.Placeholder(len(c.args))
}

func (c *compiler) node(n Node) (string, error) {
	switch n := n.(type) {
	case *And:
		l, err := c.node(n.L)
		if err != nil {
			return "", err
		}
		r, err := c.node(n.R)
		if err != nil {
			return "", err
		}
		return "(" + l + " AND " + r + ")", nil
	case *Or:
		l, err := c.node(n.L)
		if err != nil {
			return "", err
		}
		r, err := c.node(n.R)
		if err != nil {
			return "", err
		}
		return "(" + l + " OR " + r + ")", nil
	case *Not:
		x, err := c.node(n.X)
		if err != nil {
			return "", err
		}
		return "(NOT " + x + ")", nil
	case *Term:
		return c.term(n)
	}
	return "", fmt.Errorf("query: unknown node %T", n)
}

func (c *compiler) term(t *Term) (string, error) {
	if t.Field == "" {
		// Free text: a substring of a dataset or field name.
		pat := "%" + escapeLike(strings.ToLower(t.Value)) + "%"
		return "(" + c.d.Terms("dataset", c.d.Lower("t.value")+" LIKE "+c.arg(pat)+` ESCAPE '\'`) + " OR " +
			c.d.Terms("field", c.d.Lower("t.value")+" LIKE "+c.arg(pat)+` ESCAPE '\'`) + ")", nil
	}
	f, ok := FieldByName(t.Field)
	if !ok {
		return "", errorf(t.Pos, "unknown field %q (fields: %s)", t.Field, fieldNames())
	}
	switch f.Kind {
	case KindText:
		return c.text(t, c.d.Column(f.Name), f.Fold)
	case KindMulti:
		if t.Op != ":" && t.Op != "=" && t.Op != "!=" {
			return "", errorf(t.Pos, "%s takes field:value, not %s", f.Name, t.Op)
		}
		// Terms are stored lower case (see Terms).
		cond, err := c.match(t, "t.value", FoldLower)
		if err != nil {
			return "", err
		}
		s := c.d.Terms(f.Name, cond)
		if t.Op == "!=" {
			s = "(NOT " + s + ")"
		}
		return s, nil
	case KindInt, KindSize:
		v, err := parseNumber(t.Value, f)
		if err != nil {
			return "", errorf(t.ValuePos, "%s: %v", f.Name, err)
		}
		return c.compare(t, c.d.Column(f.Name), v)
	case KindTime:
		v, err := parseTime(t.Value, c.now)
		if err != nil {
			return "", errorf(t.ValuePos, "%s: %v", f.Name, err)
		}
		return c.compare(t, c.d.Column(f.Name), c.d.Time(v))
	case KindDuration:
		v, err := parseDuration(t.Value)
		if err != nil {
			return "", errorf(t.ValuePos, "%s: %v", f.Name, err)
		}
		return c.compare(t, c.d.Column(f.Name), c.d.Seconds(v))
	case KindBool:
		b, err := strconv.ParseBool(strings.ToLower(strings.NewReplacer("yes", "true", "no", "false").Replace(t.Value)))
		if err != nil || (t.Op != ":" && t.Op != "=") {
			return "", errorf(t.ValuePos, "%s takes true or false", f.Name)
		}
		if b {
			return c.d.Column(f.Name) + " = 1", nil
		}
		return "(" + c.d.Column(f.Name) + " = 0 OR " + c.d.Column(f.Name) + " IS NULL)", nil
	case KindAddr:
		return c.addr(t, c.d.Column(f.Name))
	}
	return "", errorf(t.Pos, "field %s cannot be searched", f.Name)
}

// text compiles equality or a wildcard match on a text column.
func (c *compiler) text(t *Term, col string, fold Fold) (string, error) {
	switch t.Op {
	case ":", "=", "!=":
	default:
		return "", errorf(t.Pos, "%s is text: use %s:value", t.Field, t.Field)
	}
	cond, err := c.match(t, col, fold)
	if err != nil {
		return "", err
	}
	if t.Op == "!=" {
		return "(NOT " + cond + " OR " + col + " IS NULL)", nil
	}
	return cond, nil
}

// match is expr = value, or expr LIKE pattern when the value has a *,
// with the value folded as the column is stored.
func (c *compiler) match(t *Term, expr string, fold Fold) (string, error) {
	v := strings.ToLower(t.Value)
	switch fold {
	case FoldNone:
		expr = c.d.Lower(expr)
	case FoldUpper:
		v = strings.ToUpper(t.Value)
	}
	if v == "" {
		return "", errorf(t.ValuePos, "%s needs a value", t.Field)
	}
	if strings.Contains(v, "*") {
		pat := strings.ReplaceAll(escapeLike(v), "*", "%")
		return expr + " LIKE " + c.arg(pat) + ` ESCAPE '\'`, nil
	}
	return expr + " = " + c.arg(v), nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// compare compiles a comparison of a column with an encoded value.
func (c *compiler) compare(t *Term, col string, v any) (string, error) {
	op := t.Op
	switch op {
	case ":":
		op = "="
	case "=", "!=", "<", "<=", ">", ">=":
	default:
		return "", errorf(t.Pos, "bad operator %s", op)
	}
	if op == "!=" {
		return "(" + col + " <> " + c.arg(v) + " OR " + col + " IS NULL)", nil
	}
	return col + " " + op + " " + c.arg(v), nil
}

// addr compiles ip:ADDR, ip:CIDR, ip:A-B and comparisons.
func (c *compiler) addr(t *Term, col string) (string, error) {
	v := t.Value
	var lo, hi netip.Addr
	switch {
	case strings.Contains(v, "/"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", errorf(t.ValuePos, "ip: %q is not a CIDR", v)
		}
		p = p.Masked()
		lo, hi = p.Addr().Unmap(), lastAddr(p)
	case strings.Contains(v, "-") && !strings.Contains(v, ":"):
		a, b, _ := strings.Cut(v, "-")
		x, err1 := netip.ParseAddr(a)
		y, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil || y.Less(x) {
			return "", errorf(t.ValuePos, "ip: %q is not a range FIRST-LAST", v)
		}
		lo, hi = x.Unmap(), y.Unmap()
	default:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", errorf(t.ValuePos, "ip: %q is not an address, CIDR or range", v)
		}
		if t.Op != ":" && t.Op != "=" {
			return c.compare(t, col, c.d.Addr(a.Unmap()))
		}
		lo, hi = a.Unmap(), a.Unmap()
	}
	if t.Op != ":" && t.Op != "=" && t.Op != "!=" {
		return "", errorf(t.Pos, "ip ranges take ip:RANGE")
	}
	s := col + " BETWEEN " + c.arg(c.d.Addr(lo)) + " AND " + c.arg(c.d.Addr(hi))
	if t.Op == "!=" {
		s = "(NOT " + s + ")"
	}
	return s, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().Unmap()
	b := a.AsSlice()
	bits := p.Bits()
	if a.Is4() && p.Addr().Is4In6() {
		bits -= 96
	}
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

// parseNumber reads 100000, 1.5M, 10k for records and 1GB, 500MiB for bytes;
// asn accepts "AS37963".
func parseNumber(s string, f Field) (int64, error) {
	orig := s
	if f.Name == "asn" {
		s = strings.TrimPrefix(strings.ToUpper(s), "AS")
	}
	mult := 1.0
	up := strings.ToUpper(s)
	suffixes := []struct {
		s string
		m float64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	}
	for _, sf := range suffixes {
		if strings.HasSuffix(up, sf.s) && len(up) > len(sf.s) {
			if f.Kind != KindSize && strings.HasSuffix(sf.s, "B") {
				return 0, fmt.Errorf("%q: a byte size is not a count", orig)
			}
			mult, up = sf.m, up[:len(up)-len(sf.s)]
			break
		}
	}
	x, err := strconv.ParseFloat(up, 64)
	if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) || x*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	return int64(x * mult), nil
}

// parseTime reads 2026-01-01, 2026-01-01T10:00:00Z, or a relative "-7d"
// (seven days before now).
func parseTime(s string, now time.Time) (time.Time, error) {
	if strings.HasPrefix(s, "-") {
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-01-01, 2026-01-01T10:00:00Z or -7d)", s)
}

// parseDuration reads 30d, 12h, 90m, 2w, 1y (365 days), 45s.
func parseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a duration (30d, 12h, 90m)", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour,
		'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if unit == 0 || err != nil || n < 0 || n > 1e5 {
		return 0, fmt.Errorf("%q is not a duration (30d, 12h, 90m)", s)
	}
	return time.Duration(n * float64(unit)), nil
}

func fieldNames() string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// FacetFields are the fields a search can count values of.
var FacetFields = []string{"protocol", "status", "severity", "class", "provider", "country", "asn", "org", "hosting", "product", "port", "disclosure"}
