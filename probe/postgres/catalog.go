package postgres

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
)

// Catalog queries. See https://www.postgresql.org/docs/current/catalogs.html.
const (
	superuserQuery = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
	databasesQuery = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"
)

// Server versions where the catalog changed.
const (
	// v10 added declarative partitioning: relkind 'p' and pg_class.relispartition.
	v10 = 100000
	// v12 added pg_partition_tree.
	v12 = 120000
)

// listDatabases returns the names of at most limit databases that accept
// connections, templates left out.
func listDatabases(ctx context.Context, c *pgx.Conn, limit int) ([]string, error) {
	rows, err := c.Query(ctx, databasesQuery+" LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	// The LIMIT is the server's to honour; a hostile one is cut off here.
	for len(names) < limit && rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	rows.Close()
	return names, rows.Err()
}

// tablesQuery lists the user relations of the current database (tables,
// partitioned tables, materialized views) outside the system schemas, with
// the planner's row estimate, the size on disk and the column names, for a
// server of version number versionNum (0 when unknown: the query of the
// oldest versions, which every version runs). A partitioned table
// stands for its partitions, which are left out; from version 12 on its
// estimate and size are the sums over its leaf partitions.
func tablesQuery(versionNum int) string {
	tuples, size := "c.reltuples::float8", "pg_total_relation_size(c.oid)"
	partitions := ""
	if versionNum >= v10 {
		partitions = " AND NOT c.relispartition"
	}
	if versionNum >= v12 {
		// A leaf never analysed (reltuples < 0) makes the sum unknown.
		tuples = "CASE WHEN c.relkind = 'p' THEN (SELECT CASE WHEN bool_or(l.reltuples < 0) THEN -1 ELSE coalesce(sum(l.reltuples), 0) END" +
			" FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)::float8 ELSE c.reltuples::float8 END"
		size = "CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)" +
			" FROM pg_partition_tree(c.oid) t)::int8 ELSE pg_total_relation_size(c.oid) END"
	}
	return "SELECT n.nspname::text, c.relname::text, " + tuples + ", " + size + "," +
		" ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)" +
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" +
		" WHERE c.relkind IN ('r', 'p', 'm')" + partitions +
		" AND n.nspname NOT IN ('pg_catalog', 'information_schema')" +
		" AND n.nspname !~ '^pg_(toast|temp_)'" +
		" ORDER BY n.nspname, c.relname"
}

// relation is one row of tablesQuery.
type relation struct {
	schema, name string
	reltuples    float64
	bytes        int64
	fields       []string
}

// datasets lists at most limit relations of database db on c and sizes
// them. It returns the datasets read so far with any error.
func (s *session) datasets(ctx context.Context, c *pgx.Conn, db string, versionNum, limit int) ([]ajar.Dataset, error) {
	rels, err := listRelations(ctx, c, versionNum, limit)
	out := make([]ajar.Dataset, 0, len(rels))
	for _, r := range rels {
		d := ajar.Dataset{
			Name:   db + "." + r.schema + "." + r.name,
			Bytes:  max(r.bytes, 0),
			Fields: r.fields,
		}
		d.Records, d.Estimated = estimate(r.reltuples), true
		if countExactly(r.reltuples, s.opts.CountCap) && s.timeLeft(ctx) {
			n, cerr := countRows(ctx, c, r.schema, r.name)
			switch {
			case cerr == nil:
				d.Records, d.Estimated = n, false
			case !statementFailed(cerr):
				// The connection is gone: report what was read.
				out = append(out, d)
				return out, fmt.Errorf("count rows of %s.%s: %w", strconv.Quote(r.schema), strconv.Quote(r.name), cerr)
			}
			// A refused or timed-out count (statement_timeout, a
			// materialized view never populated) keeps the estimate.
		}
		out = append(out, d)
		if s.opts.Samples > 0 && d.Records > 0 && len(r.fields) > 0 && s.timeLeft(ctx) {
			docs, serr := sampleRows(ctx, c, r, s.opts.Samples)
			if serr != nil && !statementFailed(serr) {
				return out, fmt.Errorf("sample rows of %s.%s: %w", strconv.Quote(r.schema), strconv.Quote(r.name), serr)
			}
			for _, doc := range docs {
				s.samples = append(s.samples, ajar.Sample{Dataset: d.Name, Doc: doc})
			}
		}
	}
	return out, err
}

// Bounds of a sampled row.
const (
	maxSampleColumns = 64   // columns read
	maxSampleValue   = 1024 // characters of a value, cut on the server
)

// sampleRows reads the first n rows of a relation for the classifier
// (enrich redacts them before they are stored): every column cast to text
// and cut by the server, NULL left out, under the session's statement
// timeout in its read-only transaction.
func sampleRows(ctx context.Context, c *pgx.Conn, r relation, n int) ([]map[string]string, error) {
	cols := r.fields[:min(len(r.fields), maxSampleColumns)]
	rows, err := c.Query(ctx, sampleQuery(r.schema, r.name, cols, n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var docs []map[string]string
	vals := make([]*string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// The LIMIT is the server's to honour; a hostile one is cut off here.
	for len(docs) < n && rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return docs, err
		}
		doc := make(map[string]string, len(cols))
		for i, col := range cols {
			if vals[i] != nil {
				doc[col] = clip(*vals[i], 4*maxSampleValue)
			}
		}
		docs = append(docs, doc)
	}
	rows.Close()
	return docs, rows.Err()
}

// sampleQuery selects the first n rows of schema.name, each column as text
// cut to maxSampleValue characters. The names come from the server and are
// quoted as identifiers.
func sampleQuery(schema, name string, cols []string, n int) string {
	sel := make([]string, len(cols))
	for i, col := range cols {
		sel[i] = "left((" + pgx.Identifier{col}.Sanitize() + ")::text, " + strconv.Itoa(maxSampleValue) + ")"
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + pgx.Identifier{schema, name}.Sanitize() + " LIMIT " + strconv.Itoa(n)
}

// timeLeft reports whether the probe has time for one more statement that
// may run until the statement timeout.
func (s *session) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > 2*s.timeout
}

// listRelations runs tablesQuery.
func listRelations(ctx context.Context, c *pgx.Conn, versionNum, limit int) ([]relation, error) {
	rows, err := c.Query(ctx, tablesQuery(versionNum)+" LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rels []relation
	for len(rels) < limit && rows.Next() {
		var r relation
		if err := rows.Scan(&r.schema, &r.name, &r.reltuples, &r.bytes, &r.fields); err != nil {
			return rels, err
		}
		rels = append(rels, r)
	}
	rows.Close()
	return rels, rows.Err()
}

// countRows counts the rows of schema.name exactly. The names come from the
// server and are quoted as identifiers.
func countRows(ctx context.Context, c *pgx.Conn, schema, name string) (int64, error) {
	var n int64
	err := c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, name}.Sanitize()).Scan(&n)
	return n, err
}

// countExactly reports whether a relation whose planner estimate is
// reltuples is counted with count(*) under countCap: when the estimate is
// below the cap, or unknown (negative: never analysed since version 14;
// NaN from a broken server).
func countExactly(reltuples float64, countCap int64) bool {
	return math.IsNaN(reltuples) || reltuples < float64(countCap)
}

// estimate turns the planner's estimate into a record count.
func estimate(reltuples float64) int64 {
	switch {
	case math.IsNaN(reltuples) || reltuples <= 0:
		return 0
	case reltuples >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(math.Round(reltuples))
}
