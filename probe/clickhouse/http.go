package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

// queryPath carries the settings of every query: a time limit, then
// readonly=1, after which the server accepts no other setting and no
// statement that writes. The query itself goes in the POST body, as GET
// already implies readonly=2 and refuses readonly=1.
// https://clickhouse.com/docs/en/interfaces/http
const queryPath = "/?max_execution_time=10&readonly=1"

// engines whose tables hold rows of their own; views, Distributed, Merge,
// Buffer and table functions are left out as MySQL views are.
func storesRows(engine string) bool {
	return strings.HasSuffix(engine, "MergeTree") ||
		slices.Contains([]string{"Log", "TinyLog", "StripeLog", "Memory", "Set", "Join"}, engine)
}

// httpClient runs queries as the default user without a password: the
// server takes a request without credentials as user default.
type httpClient struct {
	c *httpc.Client
}

// errNativePort is the answer of the native protocol's port to HTTP:
// "Port 9000 is for clickhouse-client program. You must use port 8123 for
// HTTP."
var errNativePort = errors.New("the native protocol's port")

// errRefused is an answer that means the user may not log in.
type errRefused struct{ detail string }

func (e *errRefused) Error() string { return e.detail }

// queryError is an exception the server answered with.
type queryError struct {
	Code   int
	Status int
	Text   string
}

func (e *queryError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Text)
}

func (h *httpClient) query(ctx context.Context, path, sql string) (result, []byte, error) {
	r, err := h.c.Do(ctx, http.MethodPost, path, []byte(sql+" FORMAT JSON"), http.Header{"Content-Type": {"text/plain"}})
	if err != nil {
		return result{}, nil, err
	}
	if r.Status != http.StatusOK {
		code := errorCode(r.Body)
		if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden || authCode(code) {
			return result{}, r.Body, &errRefused{errorText(r.Body)}
		}
		if code == 0 && r.Status == http.StatusBadRequest && bytes.Contains(r.Body, []byte(" is for clickhouse-client program")) {
			return result{}, r.Body, errNativePort
		}
		if code == 0 {
			return result{}, r.Body, fmt.Errorf("%w (%w)", httpc.Unexpected(http.MethodPost, path, r), ErrProtocol)
		}
		return result{}, r.Body, &queryError{Code: code, Status: r.Status, Text: errorText(r.Body)}
	}
	res, err := parseResult(r.Body)
	return res, r.Body, err
}

// table is one listed table.
type table struct {
	db, name, engine string
	rows, bytes      int64
	known            bool // rows and bytes come from the server
}

func probeHTTP(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	hc := httpc.New(t)
	hc.MaxBody = maxBody
	defer hc.Close()
	h := &httpClient{c: hc}
	res := &probe.Result{Status: ajar.StatusOpen, Product: "ClickHouse"}
	opts := t.Options
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}

	v, _, err := h.query(ctx, queryPath, "SELECT version() AS version")
	var refused *errRefused
	if errors.As(err, &refused) {
		res.Status, res.Detail = ajar.StatusProtected, refused.detail
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read version: %w", err)
	}
	if len(v.Rows) == 1 {
		res.Version = clip(v.Rows[0]["version"], 40)
	}
	res.Status = ajar.StatusExposed
	exp := &ajar.Exposure{Plugin: "clickhouse", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}}
	res.Exposure = exp

	// The user's own readonly setting, asked without readonly=1 (which
	// would answer for itself): 0 means it may also write and drop.
	if s, _, err := h.query(ctx, "/?max_execution_time=10", "SELECT value FROM system.settings WHERE name = 'readonly'"); err == nil &&
		len(s.Rows) == 1 && s.Rows[0]["value"] == "0" {
		exp.Access = ajar.AccessAdmin
	}

	tables, evidence, err := h.tables(ctx, opts.MaxDatasets)
	exp.Evidence = &ajar.Evidence{Request: "POST " + queryPath + " SELECT … FROM system.tables", Response: evidence}
	if err != nil {
		return res, fmt.Errorf("list tables: %w", err)
	}
	fields, err := h.columns(ctx)
	if err != nil {
		return res, fmt.Errorf("list columns: %w", err)
	}
	for _, tb := range tables {
		name := tb.db + "." + tb.name
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: name, Records: tb.rows, Bytes: tb.bytes,
			Fields: fields[name], Estimated: !tb.known})
	}
	exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: "system", System: true})
	exp.Total()
	if opts.Samples > 0 {
		if err := h.sample(ctx, exp, tables, opts.Samples); err != nil {
			return res, err
		}
	}
	return res, nil
}

// tables lists the tables that hold rows, with their rows and bytes:
// system.tables has total_rows and total_bytes since 20.x; before, the
// active parts of system.parts add up to them for the MergeTree family,
// and count() counts the others.
func (h *httpClient) tables(ctx context.Context, max int) ([]table, string, error) {
	const where = " FROM system.tables WHERE database NOT IN ('system', 'information_schema', 'INFORMATION_SCHEMA')" +
		" ORDER BY database, name LIMIT "
	lim := fmt.Sprint(max)
	r, body, err := h.query(ctx, queryPath, "SELECT database, name, engine, total_rows, total_bytes"+where+lim)
	var qe *queryError
	modern := err == nil
	if errors.As(err, &qe) && qe.Code == 47 { // UNKNOWN_IDENTIFIER: no total_rows yet
		r, body, err = h.query(ctx, queryPath, "SELECT database, name, engine"+where+lim)
	}
	if err != nil {
		return nil, "", err
	}
	var out []table
	for _, row := range r.Rows {
		tb := table{db: row["database"], name: row["name"], engine: row["engine"]}
		if !storesRows(tb.engine) {
			continue
		}
		if modern && row["total_rows"] != "" {
			tb.rows, tb.bytes, tb.known = count(row["total_rows"]), count(row["total_bytes"]), true
		}
		out = append(out, tb)
	}
	if !modern {
		if err := h.parts(ctx, out); err != nil {
			return out, evidence(out, body), err
		}
	}
	for i := range out {
		if out[i].known {
			continue
		}
		c, _, err := h.query(ctx, queryPath, "SELECT count() AS n FROM "+quoteIdent(out[i].db)+"."+quoteIdent(out[i].name))
		if err == nil && len(c.Rows) == 1 {
			out[i].rows, out[i].known = count(c.Rows[0]["n"]), true
		}
	}
	return out, evidence(out, body), nil
}

// parts fills rows and bytes of MergeTree tables from their active parts.
func (h *httpClient) parts(ctx context.Context, tables []table) error {
	r, _, err := h.query(ctx, queryPath, "SELECT database, table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes"+
		" FROM system.parts WHERE active GROUP BY database, table")
	if err != nil {
		return fmt.Errorf("read system.parts: %w", err)
	}
	sums := map[[2]string][2]int64{}
	for _, row := range r.Rows {
		sums[[2]string{row["database"], row["table"]}] = [2]int64{count(row["rows"]), count(row["bytes"])}
	}
	for i, tb := range tables {
		if !strings.HasSuffix(tb.engine, "MergeTree") {
			continue
		}
		// A MergeTree table without active parts is empty.
		s := sums[[2]string{tb.db, tb.name}]
		tables[i].rows, tables[i].bytes, tables[i].known = s[0], s[1], true
	}
	return nil
}

// evidence renders the tables found, bounded.
func evidence(tables []table, body []byte) string {
	if len(tables) == 0 {
		return clip(string(body), evidenceMax)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d tables:", len(tables))
	for _, tb := range tables {
		fmt.Fprintf(&b, " %s.%s (%s, %d rows, %d bytes);", tb.db, tb.name, tb.engine, tb.rows, tb.bytes)
	}
	return clip(b.String(), evidenceMax)
}

// columns returns the column names of every table, by "db.table".
func (h *httpClient) columns(ctx context.Context) (map[string][]string, error) {
	r, _, err := h.query(ctx, queryPath, "SELECT database, table, name FROM system.columns"+
		" WHERE database NOT IN ('system', 'information_schema', 'INFORMATION_SCHEMA') LIMIT "+fmt.Sprint(maxColumns))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, row := range r.Rows {
		k := row["database"] + "." + row["table"]
		if len(out[k]) < maxFields {
			out[k] = append(out[k], clip(row["name"], 64))
		}
	}
	return out, nil
}

// sample reads the first rows of the largest tables; the first datasets
// of exp are the tables, in the same order.
func (h *httpClient) sample(ctx context.Context, exp *ajar.Exposure, tables []table, n int) error {
	order := []int{}
	for i := range tables {
		if exp.Datasets[i].Records > 0 {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return int(min(max(exp.Datasets[b].Records-exp.Datasets[a].Records, -1), 1))
	})
	if len(order) > maxSampled {
		order = order[:maxSampled]
	}
	for _, i := range order {
		name := exp.Datasets[i].Name
		r, _, err := h.query(ctx, queryPath, fmt.Sprintf("SELECT * FROM %s.%s LIMIT %d", quoteIdent(tables[i].db), quoteIdent(tables[i].name), n))
		var qe *queryError
		if errors.As(err, &qe) {
			continue // a table the user may list but not read
		}
		if err != nil {
			return fmt.Errorf("sample %s: %w", name, err)
		}
		for _, row := range r.Rows {
			doc := make(map[string]string, len(row))
			for k, v := range row {
				doc[clip(k, 64)] = clip(v, maxValue)
			}
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: doc})
		}
	}
	return nil
}

// clip bounds a server-controlled string.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
