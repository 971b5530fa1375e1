package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

var _ ajar.Searcher = (*Store)(nil)

// from is the relation every search reads: the facts it compares are
// columns of exposures; terms are read by EXISTS (dialect.Terms).
const from = ` FROM exposures e`

// dialect maps the query language onto this store's schema, so that a
// query selects, orders and pages exactly as on the embedded store.
var dialect = query.Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Column: func(f string) string {
		switch f {
		case "ransom":
			// The compiler compares with 1 and 0.
			return "(e.ransom::integer)"
		case "open_for":
			// An interval cut to whole seconds (as SQLite's integer
			// division cuts nanoseconds), spelled as exposures_open_for.
			return "date_trunc('second', coalesce(e.closed_at, e.last_seen) - e.first_seen)"
		case "port":
			// PostgreSQL types a parameter after the column it meets: as
			// integer, port>99999999999 would fail to encode instead of
			// matching nothing.
			return "(e.port::bigint)"
		}
		return "e." + f
	},
	Terms: func(kind, cond string) string {
		// kind is one of the query package's field names; anything else
		// (never the case) matches nothing rather than reaching the SQL.
		if !isName(kind) {
			return "FALSE"
		}
		return "EXISTS (SELECT 1 FROM terms t WHERE t.exposure = e.id AND t.kind = '" + kind + "' AND " + cond + ")"
	},
	Lower: func(x string) string {
		if x == "t.value" {
			// Terms are stored lower case (query.Terms): compared as they
			// are, they can use the terms_value index.
			return x
		}
		// ASCII case folding and byte comparison, as SQLite's lower() and
		// LIKE, whatever the database's locale.
		return "lower((" + x + `) COLLATE "C")`
	},
	Addr: func(a netip.Addr) any { return normalAddr(a) },
	Time: func(t time.Time) any { return t.UTC() },
	// Whole seconds, as an interval: compared with Column("open_for").
	Seconds: func(d time.Duration) any { return d.Truncate(time.Second) },
}

// isName reports whether s is a lowercase word: safe to put in SQL as is.
func isName(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return s != ""
}

// Search answers a query of the search language, ordered like List. The
// total, the page and the facets are read in one snapshot and one round
// trip.
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
	for i, a := range c.Args {
		if v, ok := a.(string); ok {
			c.Args[i] = pgText(v)
		}
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
	var after *cursor
	if r.Cursor != "" {
		cur, err := decodeCursor(r.Cursor)
		if err != nil {
			return nil, &query.Error{Col: 1, Msg: "bad cursor: " + err.Error()}
		}
		after = &cur
	}

	res := &ajar.SearchResult{}
	var b pgx.Batch
	b.Queue("SELECT count(*)"+from+" WHERE "+c.Where, c.Args...).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&res.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		return nil
	})
	queuePage(&b, c, after, limit, res)
	if len(r.Facets) > 0 {
		res.Facets = map[string][]ajar.FacetCount{}
	}
	for _, f := range r.Facets {
		queueFacet(&b, f, c, res)
	}
	err = s.read(ctx, "search", func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// queuePage queues in b the read of up to limit records matching c after
// the cursor into res, which sets res.NextCursor when more follow.
func queuePage(b *pgx.Batch, c query.Compiled, after *cursor, limit int, res *ajar.SearchResult) {
	where, args := c.Where, slices.Clone(c.Args)
	arg := func(v any) string {
		args = append(args, v)
		return dialect.Placeholder(len(args))
	}
	if after != nil {
		where = "(" + where + ") AND (e.ip, e.port, e.plugin) > (" +
			arg(after.addr) + "::inet, " + arg(int32(after.port)) + ", " + arg(pgText(after.plugin)) + ")"
	}
	q := "SELECT e.id, e.last, e.ip, e.port, e.plugin" + from + " WHERE " + where +
		" ORDER BY e.ip, e.port, e.plugin LIMIT " + arg(limit+1)
	b.Queue(q, args...).Query(func(rows pgx.Rows) error {
		var last cursor
		for rows.Next() {
			var (
				id   int64
				js   []byte
				cur  cursor
				port int32
			)
			if err := rows.Scan(&id, &js, &cur.addr, &port, &cur.plugin); err != nil {
				return err
			}
			cur.port = uint16(port)
			if len(res.Items) == limit {
				res.NextCursor = last.encode()
				break
			}
			ev, err := decodeEvent(js)
			if err != nil {
				return fmt.Errorf("exposure %d: %w", id, err)
			}
			res.Items = append(res.Items, ajar.Record{ID: id, Last: ev})
			last = cur
		}
		return rows.Err()
	})
}

// maxFacetValues is how many values a facet lists, most frequent first.
const maxFacetValues = 20

// queueFacet queues in b the count of the exposures matching c by value of
// field f into res.Facets[f]: most frequent first, then by value (bytewise,
// or numerically for numbers), a missing value counted as "unknown".
func queueFacet(b *pgx.Batch, f string, c query.Compiled, res *ajar.SearchResult) {
	var q string
	if f == "class" {
		// count(*) counts exposures: the terms key (exposure, kind, value)
		// joins each exposure to a value at most once.
		q = "SELECT t.value AS v, count(*) AS n" + from +
			" JOIN terms t ON t.exposure = e.id AND t.kind = 'class' WHERE " + c.Where + " GROUP BY v"
	} else {
		col := dialect.Column(f)
		if fd, _ := query.FieldByName(f); fd.Kind == query.KindText {
			col = "(" + col + `) COLLATE "C"`
		}
		q = "SELECT " + col + " AS v, count(*) AS n" + from + " WHERE " + c.Where + " GROUP BY v"
	}
	// Ordered by the value as it is (a port numerically), named as text.
	q = "SELECT f.v::text AS value, f.n FROM (" + q + ") f ORDER BY f.n DESC, f.v IS NULL, f.v LIMIT " +
		dialect.Placeholder(len(c.Args)+1)
	b.Queue(q, append(slices.Clone(c.Args), maxFacetValues)...).Query(func(rows pgx.Rows) error {
		out := []ajar.FacetCount{}
		for rows.Next() {
			var v *string
			var n int64
			if err := rows.Scan(&v, &n); err != nil {
				return fmt.Errorf("facet %s: %w", f, err)
			}
			fc := ajar.FacetCount{Value: "unknown", Count: n}
			if v != nil {
				fc.Value = *v
			}
			out = append(out, fc)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("facet %s: %w", f, err)
		}
		res.Facets[f] = out
		return nil
	})
}

// cursor is the sort key of the last item of a page.
type cursor struct {
	addr   netip.Addr
	port   uint16
	plugin string
}

// encode renders the cursor as the embedded store does: the length of the
// address key, the key (a family byte, 4 or 6, then the address bytes), the
// port and the plugin, base64url-encoded. A cursor of either store
// continues a search on the other.
func (c cursor) encode() string {
	a := c.addr.AsSlice()
	fam := byte(4)
	if c.addr.Is6() {
		fam = 6
	}
	b := append([]byte{byte(1 + len(a)), fam}, a...)
	b = binary.BigEndian.AppendUint16(b, c.port)
	b = append(b, c.plugin...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	bad := errors.New("not a cursor of this store")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 {
		return cursor{}, bad
	}
	n := int(b[0])
	if len(b) < 1+n+2 {
		return cursor{}, bad
	}
	key := b[1 : 1+n]
	var a netip.Addr
	switch {
	case n == 5 && key[0] == 4:
		a = netip.AddrFrom4([4]byte(key[1:]))
	case n == 17 && key[0] == 6:
		a = netip.AddrFrom16([16]byte(key[1:]))
	default:
		return cursor{}, bad
	}
	return cursor{addr: a, port: binary.BigEndian.Uint16(b[1+n:]), plugin: string(b[3+n:])}, nil
}
