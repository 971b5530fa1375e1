package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds on what is read from a server's catalogue and its tables.
const (
	maxGrantLines    = 64     // SHOW GRANTS lines read
	maxFields        = 512    // column names kept per table (MySQL allows 4096)
	maxColumnRows    = 50_000 // rows read from information_schema.COLUMNS
	maxSampledTables = 200    // tables whose rows are sampled
	maxSampleColumns = 64     // columns read of a sampled row
	maxSampleValue   = 1024   // characters of a sampled value, cut on the server
)

// table is one user table and what is known of it.
type table struct {
	schema, name string
	rows         int64 // TABLE_ROWS, then the exact count when there is one
	rowsKnown    bool  // TABLE_ROWS was a number
	bytes        int64 // DATA_LENGTH
	fields       []string
	estimated    bool
}

// version is the first query of a client: it logs in.
func (s *client) version(ctx context.Context) (string, error) {
	var v sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", err
	}
	return clip(v.String, maxText), nil
}

// admin reports whether the current user holds all privileges or SUPER on
// every database, with the grant that says so.
func (s *client) admin(ctx context.Context) (bool, string, error) {
	rows, err := s.db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return false, "", err
	}
	defer rows.Close()
	for i := 0; i < maxGrantLines && rows.Next(); i++ {
		var line sql.NullString
		if err := rows.Scan(&line); err != nil {
			return false, "", err
		}
		if grantIsAdmin(line.String) {
			return true, clip(line.String, maxText), nil
		}
	}
	return false, "", rows.Err()
}

// systemSchemaList is the SQL list of the system schemas.
var systemSchemaList = func() string {
	q := make([]string, len(systemSchemas))
	for i, s := range systemSchemas {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}()

// tables lists up to limit user tables, ordered by schema and name. Views
// hold no rows of their own and are left out; so are the system schemas.
// truncated is true when there were more.
func (s *client) tables(ctx context.Context, limit int) (out []table, truncated bool, err error) {
	q := "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES" +
		" WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')" +
		" AND TABLE_SCHEMA NOT IN (" + systemSchemaList + ")" +
		" ORDER BY TABLE_SCHEMA, TABLE_NAME LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name, nrows, size sql.NullString
		if err := rows.Scan(&schema, &name, &nrows, &size); err != nil {
			return out, false, err
		}
		// The server is not trusted to have applied the filter.
		if isSystemSchema(schema.String) {
			continue
		}
		if len(out) == limit {
			truncated = true
			break
		}
		tb := table{schema: clip(schema.String, maxIdent), name: clip(name.String, maxIdent)}
		tb.rows, tb.rowsKnown = parseCount(nrows)
		tb.bytes, _ = parseCount(size)
		out = append(out, tb)
	}
	return out, truncated, rows.Err()
}

// columns fills the column names of tables, in ordinal order, with one
// query. When the table list was truncated the query stops at its last
// table.
func (s *client) columns(ctx context.Context, tables []table, truncated bool) error {
	if len(tables) == 0 {
		return nil
	}
	index := make(map[[2]string]int, len(tables))
	for i, tb := range tables {
		index[[2]string{tb.schema, tb.name}] = i
	}
	q := "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS" +
		" WHERE TABLE_SCHEMA NOT IN (" + systemSchemaList + ")"
	var args []any
	if truncated {
		last := tables[len(tables)-1]
		q += " AND (TABLE_SCHEMA, TABLE_NAME) <= (?, ?)"
		args = append(args, last.schema, last.name)
	}
	q += " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION LIMIT " + strconv.Itoa(maxColumnRows)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name, column sql.NullString
		if err := rows.Scan(&schema, &name, &column); err != nil {
			return err
		}
		i, ok := index[[2]string{clip(schema.String, maxIdent), clip(name.String, maxIdent)}]
		if !ok || len(tables[i].fields) >= maxFields {
			continue
		}
		tables[i].fields = append(tables[i].fields, clip(column.String, maxIdent))
	}
	return rows.Err()
}

// count is the exact row count of one table, stopped by the server after
// limit. The client gives the server a second more before it gives up on
// the connection.
func (s *client) count(ctx context.Context, product, schema, name string, limit time.Duration) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, limit+time.Second)
	defer cancel()
	var n sql.NullString
	if err := s.db.QueryRowContext(cctx, countQuery(product, schema, name, limit)).Scan(&n); err != nil {
		return 0, err
	}
	c, ok := parseCount(n)
	if !ok {
		return 0, fmt.Errorf("count of %s.%s is not a number", schema, name)
	}
	return c, nil
}

// rows reads the first n rows of a table, every value as a string cut to
// maxSampleValue characters by the server (SQL NULL is left out), under a
// server-side time limit. The client gives the server a second more.
func (s *client) rows(ctx context.Context, product string, tb table, n int, limit time.Duration) ([]map[string]string, error) {
	cols := tb.fields[:min(len(tb.fields), maxSampleColumns)]
	cctx, cancel := context.WithTimeout(ctx, limit+time.Second)
	defer cancel()
	rows, err := s.db.QueryContext(cctx, sampleQuery(product, tb.schema, tb.name, cols, n, limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var docs []map[string]string
	vals := make([]sql.NullString, len(cols))
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
		for i, c := range cols {
			if vals[i].Valid {
				doc[c] = clip(vals[i].String, 4*maxSampleValue)
			}
		}
		docs = append(docs, doc)
	}
	return docs, rows.Err()
}
