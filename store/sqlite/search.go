package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
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
	if err := tx.QueryRowContext(ctx, "SELECT count(*)"+from+" WHERE "+c.Where, c.Args...).Scan(&res.Total); err != nil {
		return nil, fmt.Errorf("search: count: %w", err)
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

	if len(r.Facets) > 0 {
		res.Facets = map[string][]ajar.FacetCount{}
	}
	for _, f := range r.Facets {
		fc, err := facet(ctx, tx, f, c)
		if err != nil {
			return nil, err
		}
		res.Facets[f] = fc
	}
	return res, nil
}

// maxFacetValues is how many values a facet lists, most frequent first.
const maxFacetValues = 20

func facet(ctx context.Context, tx *sql.Tx, f string, c query.Compiled) ([]ajar.FacetCount, error) {
	var q string
	switch f {
	case "class":
		q = "SELECT t.value AS v, count(DISTINCT e.id) AS n" + from +
			" JOIN terms t ON t.exposure = e.id AND t.kind = 'class' WHERE " + c.Where + " GROUP BY v"
	default:
		q = "SELECT " + dialect.Column(f) + " AS v, count(*) AS n" + from + " WHERE " + c.Where + " GROUP BY v"
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
