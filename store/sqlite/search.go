package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

var _ ajar.Searcher = (*Store)(nil)

// from is the relation every search reads.
const from = ` FROM exposures e`

// dialect maps the query language onto this store's schema.
var dialect = query.Dialect{
	Placeholder: func(int) string { return "?" },
	Column: func(f string) string {
		switch f {
		case "open_for":
			return "((coalesce(e.closed_at, e.last_seen) - e.first_seen) / 1000000000)"
		}
		return "e." + f
	},
	Terms: func(kind, cond string) string {
		// kind is one of the query package's field names, never user text.
		return "EXISTS (SELECT 1 FROM terms t WHERE t.exposure = e.id AND t.kind = '" + kind + "' AND " + cond + ")"
	},
	Lower:   func(x string) string { return "lower(" + x + ")" },
	Addr:    func(a netip.Addr) any { return addrKey(a) },
	Time:    func(t time.Time) any { n, _ := nanos(t); return n },
	Seconds: func(d time.Duration) any { return int64(d / time.Second) },
}

// Search answers a query of the search language, ordered like List.
func (s *Store) Search(ctx context.Context, r ajar.SearchRequest) (*ajar.SearchResult, error) {
	tree, err := query.Parse(r.Query)
	if err != nil {
		return nil, err
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	c, err := query.Compile(tree, dialect, now)
	if err != nil {
		return nil, err
	}
	limit := r.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 1000:
		limit = 1000
	}
	for _, f := range r.Facets {
		if !slices.Contains(query.FacetFields, f) {
			return nil, &query.Error{Col: 1, Msg: fmt.Sprintf("cannot count values of %q (facets: %v)", f, query.FacetFields)}
		}
	}

	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("search: begin: %w", err)
	}
	defer tx.Rollback()

	res := &ajar.SearchResult{}
	if len(r.Facets) > 0 {
		res.Facets = map[string][]ajar.FacetCount{}
	}
	if c.Where == "1=1" || len(r.Facets) == 0 {
		// The total walks the smallest index; facets (below) group their
		// field's index.
		if err := tx.QueryRowContext(ctx, "SELECT count(*)"+from+" WHERE "+c.Where, c.Args...).Scan(&res.Total); err != nil {
			return nil, fmt.Errorf("search: count: %w", err)
		}
		for _, f := range r.Facets {
			fc, err := facet(ctx, tx, f, c)
			if err != nil {
				return nil, err
			}
			res.Facets[f] = fc
		}
	} else if err := countFiltered(ctx, tx, c, r.Facets, res); err != nil {
		return nil, err
	}

	where, args := c.Where, slices.Clone(c.Args)
	if r.Cursor != "" {
		ip, port, plugin, err := decodeCursor(r.Cursor)
		if err != nil {
			return nil, &query.Error{Col: 1, Msg: "bad cursor: " + err.Error()}
		}
		where = "(" + where + ") AND (e.ip, e.port, e.plugin) > (?, ?, ?)"
		args = append(args, ip, port, plugin)
	}
	rows, err := tx.QueryContext(ctx, "SELECT e.id, e.last_json, e.ip, e.port, e.plugin"+from+" WHERE "+where+
		" ORDER BY e.ip, e.port, e.plugin LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var lastIP []byte
	var lastPort int
	var lastPlugin string
	for rows.Next() {
		var (
			id     int64
			js, ip []byte
			port   int
			plugin string
		)
		if err := rows.Scan(&id, &js, &ip, &port, &plugin); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		if len(res.Items) == limit {
			res.NextCursor = encodeCursor(lastIP, lastPort, lastPlugin)
			break
		}
		ev, err := decodeEvent(js)
		if err != nil {
			return nil, fmt.Errorf("search: exposure %d: %w", id, err)
		}
		res.Items = append(res.Items, ajar.Record{ID: id, Last: ev})
		lastIP, lastPort, lastPlugin = ip, port, plugin
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	rows.Close()

	return res, nil
}

// countFiltered counts the matches of a filtered search and the values of
// its facets in one pass over the matching exposures, instead of running
// the filter once for the total and again for every facet.
func countFiltered(ctx context.Context, tx *sql.Tx, c query.Compiled, facets []string, res *ajar.SearchResult) error {
	cols := make([]string, len(facets))
	for i, f := range facets {
		if f == "class" {
			cols[i] = "(SELECT group_concat(value, char(31)) FROM terms t WHERE t.exposure = e.id AND t.kind = 'class')"
		} else {
			cols[i] = dialect.Column(f)
		}
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+from+" WHERE "+c.Where, c.Args...)
	if err != nil {
		return fmt.Errorf("search: count: %w", err)
	}
	defer rows.Close()
	counts := make([]map[string]int64, len(facets))
	for i := range counts {
		counts[i] = map[string]int64{}
	}
	vals := make([]sql.NullString, len(facets))
	ptrs := make([]any, len(facets))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("search: count: %w", err)
		}
		res.Total++
		for i, v := range vals {
			switch {
			case facets[i] == "class":
				if v.Valid {
					for _, cl := range strings.Split(v.String, "\x1f") {
						counts[i][cl]++
					}
				}
			case v.Valid:
				counts[i][v.String]++
			default:
				counts[i]["\x00unknown"]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search: count: %w", err)
	}
	for i, f := range facets {
		res.Facets[f] = topValues(counts[i])
	}
	return nil
}

// topValues orders facet counts as the SQL facets do: most frequent first,
// then by value, unknown last; at most maxFacetValues.
func topValues(m map[string]int64) []ajar.FacetCount {
	out := make([]ajar.FacetCount, 0, len(m))
	for v, n := range m {
		out = append(out, ajar.FacetCount{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b ajar.FacetCount) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		au, bu := strings.HasPrefix(a.Value, "\x00"), strings.HasPrefix(b.Value, "\x00")
		if au != bu {
			if au {
				return 1
			}
			return -1
		}
		// Numbers (port, asn) in numeric order, as the SQL facets give them.
		if x, err1 := strconv.ParseInt(a.Value, 10, 64); err1 == nil {
			if y, err2 := strconv.ParseInt(b.Value, 10, 64); err2 == nil {
				return cmp.Compare(x, y)
			}
		}
		return strings.Compare(a.Value, b.Value)
	})
	if len(out) > maxFacetValues {
		out = out[:maxFacetValues]
	}
	for i := range out {
		out[i].Value = strings.TrimPrefix(out[i].Value, "\x00")
	}
	return out
}

// maxFacetValues is how many values a facet lists, most frequent first.
const maxFacetValues = 20

func facet(ctx context.Context, tx *sql.Tx, f string, c query.Compiled) ([]ajar.FacetCount, error) {
	// Without a filter, grouping walks the field's index. With one, the
	// matching exposures are found first (by the filter's best index) and
	// grouped after: otherwise the planner may walk the whole field index
	// to spare itself a sort.
	var q string
	switch {
	case f == "class" && c.Where == "1=1":
		q = "SELECT value AS v, count(*) AS n FROM terms WHERE kind = 'class' GROUP BY v"
	case f == "class":
		q = "WITH m AS MATERIALIZED (SELECT e.id FROM exposures e WHERE " + c.Where + ")" +
			" SELECT t.value AS v, count(*) AS n FROM m JOIN terms t ON t.exposure = m.id AND t.kind = 'class' GROUP BY v"
	case c.Where == "1=1":
		q = "SELECT " + dialect.Column(f) + " AS v, count(*) AS n" + from + " GROUP BY v"
	default:
		q = "WITH m AS MATERIALIZED (SELECT " + dialect.Column(f) + " AS v" + from + " WHERE " + c.Where + ")" +
			" SELECT v, count(*) AS n FROM m GROUP BY v"
	}
	q += " ORDER BY n DESC, v IS NULL, v LIMIT ?"
	rows, err := tx.QueryContext(ctx, q, append(slices.Clone(c.Args), maxFacetValues)...)
	if err != nil {
		return nil, fmt.Errorf("search: facet %s: %w", f, err)
	}
	defer rows.Close()
	out := []ajar.FacetCount{}
	for rows.Next() {
		var v sql.NullString
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			return nil, fmt.Errorf("search: facet %s: %w", f, err)
		}
		if !v.Valid {
			v.String = "unknown"
		}
		out = append(out, ajar.FacetCount{Value: v.String, Count: n})
	}
	return out, rows.Err()
}

// A cursor is the sort key of the last item of a page: address key, port
// and plugin, base64url-encoded.
func encodeCursor(ip []byte, port int, plugin string) string {
	b := []byte{byte(len(ip))}
	b = append(b, ip...)
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	b = append(b, plugin...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (ip []byte, port int, plugin string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1 || len(b) < 1+int(b[0])+2 {
		return nil, 0, "", errors.New("not a cursor of this store")
	}
	n := int(b[0])
	return b[1 : 1+n], int(binary.BigEndian.Uint16(b[1+n:])), string(b[3+n:]), nil
}
