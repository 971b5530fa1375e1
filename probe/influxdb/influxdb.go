// Package influxdb is the probe for InfluxDB 1.x's HTTP API: it lists the
// databases, measurements, series counts and field keys, and samples a few points.
package influxdb

import (
	"context"

	"fmt"
	"math/bits"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the InfluxDB plugin. It sends GET /ping and GET /query with SHOW
// and SELECT … LIMIT statements only; it never creates the first admin of a
// server that would let it.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "influxdb".
func (*Prober) Name() string { return "influxdb" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"influxdb"} }

// DefaultPorts returns InfluxDB's HTTP port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{8086} }

// Bounds on how much of a server the probe reads.
const (
	defaultTimeout = 30 * time.Second
	// maxDatabases is the most databases looked at.
	maxDatabases = 256
	// maxSampled is the most measurements sampled.
	maxSampled = 16
	// maxBody bounds each answer.
	maxBody = 4 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// halfOpen is how InfluxDB 1.x answers every query when authentication is
// on and no admin exists yet: anyone may then create the first admin.
// https://docs.influxdata.com/influxdb/v1/administration/authentication_and_authorization/#set-up-authentication
const halfOpen = "create admin user first"

// internalDB is InfluxDB's own monitoring database.
const internalDB = "_internal"

// Probe reads what the server gives away without credentials. A server that
// answers 401 is protected; one that waits for its first admin is exposed
// with admin access; one whose answers are not InfluxDB's is open, with an
// error. Once the database list has proved the exposure, a later failure
// returns the exposure found so far together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	hc := httpc.New(t)
	defer hc.Close()
	hc.MaxBody = maxBody
	c := &client{hc: hc}
	open := &probe.Result{Status: ajar.StatusOpen}

	ping, err := hc.Get(ctx, "/ping", nil)
	if err != nil {
		return open, fmt.Errorf("read /ping: %w", err)
	}
	open.Version = clip(ping.Header.Get("X-Influxdb-Version"), 64)
	if open.Version != "" {
		open.Product = "InfluxDB"
	}

	const list = "SHOW DATABASES"
	resp, a, err := c.query(ctx, list)
	if resp == nil {
		return open, fmt.Errorf("%s: %w", list, err)
	}
	var msg string
	if a != nil {
		msg = a.Error
		if len(a.Results) == 1 && msg == "" {
			msg = a.Results[0].Error
		}
	}
	switch {
	case strings.Contains(msg, halfOpen):
		return &probe.Result{
			Status: ajar.StatusExposed, Product: "InfluxDB", Version: open.Version,
			Detail: "authentication is on but no admin user exists: anyone can create the first admin and then read and change everything",
			Exposure: &ajar.Exposure{
				Plugin: "influxdb", Access: ajar.AccessAdmin, Datasets: []ajar.Dataset{},
				Evidence: &ajar.Evidence{Request: "GET /query?q=" + list, Response: httpc.Excerpt(resp.Body, evidenceMax)},
			},
		}, nil
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		// 1.x says "unable to parse authentication credentials" or
		// "authorization failed"; 2.x's compatibility API says
		// {"code":"unauthorized",…}.
		if msg == "" {
			msg = strings.TrimSpace(httpc.Excerpt(resp.Body, 200))
		}
		return &probe.Result{Status: ajar.StatusProtected, Product: "InfluxDB", Version: open.Version, Detail: clip(msg, 200)}, nil
	case err != nil:
		return open, fmt.Errorf("%s: %w", list, err)
	case resp.Status != http.StatusOK || msg != "":
		return open, fmt.Errorf("%s: %w", list, httpc.Unexpected(http.MethodGet, "/query", resp))
	}
	r, err := a.first()
	if err != nil {
		return open, fmt.Errorf("%s: %w", list, err)
	}
	var dbs []string
	for _, s := range r.Series {
		dbs = append(dbs, s.column("name", maxDatabases-len(dbs))...)
	}

	res := &probe.Result{Status: ajar.StatusExposed, Product: "InfluxDB", Version: open.Version}
	exp := &ajar.Exposure{
		Plugin: "influxdb",
		// With authentication off, InfluxDB runs every statement for anyone,
		// user management and DROP included.
		Access:   ajar.AccessAdmin,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "GET /query?q=" + list, Response: httpc.Excerpt(resp.Body, evidenceMax)},
	}
	res.Exposure = exp
	maxDatasets := t.Options.MaxDatasets
	if maxDatasets <= 0 {
		maxDatasets = probe.DefaultOptions().MaxDatasets
	}
	disk := c.diskBytes(ctx)
	var where [][2]string // database and measurement of each dataset
	for _, db := range dbs {
		if len(exp.Datasets) >= maxDatasets {
			break
		}
		sets, names, err := c.database(ctx, db, maxDatasets-len(exp.Datasets), disk[db])
		exp.Datasets = append(exp.Datasets, sets...)
		for _, m := range names {
			where = append(where, [2]string{db, m})
		}
		if err != nil {
			exp.Total()
			return res, fmt.Errorf("database %q: %w", clip(db, 64), err)
		}
	}
	exp.Total()

	sampled := 0
	for i := range exp.Datasets {
		d := &exp.Datasets[i]
		if d.System || d.Records == 0 || sampled >= maxSampled || t.Options.Samples <= 0 {
			continue
		}
		sampled++
		docs, err := c.sample(ctx, where[i][0], where[i][1], t.Options.Samples)
		if err != nil {
			return res, fmt.Errorf("sample %q: %w", clip(d.Name, 64), err)
		}
		for _, doc := range docs {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: doc})
		}
	}
	return res, nil
}

// client runs InfluxQL statements.
type client struct {
	hc *httpc.Client
}

// query runs one statement with GET, which InfluxDB reserves for reading
// statements (SHOW, SELECT).
func (c *client) query(ctx context.Context, stmt string) (*httpc.Response, *answer, error) {
	resp, err := c.hc.Get(ctx, "/query?"+url.Values{"q": {stmt}}.Encode(), nil)
	if err != nil {
		return nil, nil, err
	}
	a, err := parseAnswer(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("HTTP %d: %w", resp.Status, err)
	}
	return resp, a, nil
}

// run runs one statement and returns its series.
func (c *client) run(ctx context.Context, stmt string) ([]series, error) {
	_, a, err := c.query(ctx, stmt)
	if err != nil {
		return nil, err
	}
	r, err := a.first()
	if err != nil {
		return nil, err
	}
	return r.Series, nil
}

// database lists up to max measurements of db with their series counts,
// a share of the database's disk bytes, and their tag and field keys. It
// returns the datasets and the measurement name of each.
func (c *client) database(ctx context.Context, db string, max int, disk int64) ([]ajar.Dataset, []string, error) {
	q, ok := quoteIdent(db)
	if !ok {
		return nil, nil, nil
	}
	ss, err := c.run(ctx, fmt.Sprintf("SHOW MEASUREMENTS ON %s LIMIT %d", q, max))
	if err != nil {
		return nil, nil, fmt.Errorf("SHOW MEASUREMENTS: %w", err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.column("name", max-len(names))...)
	}
	sets := make([]ajar.Dataset, 0, len(names))
	index := map[string]int{}
	for _, m := range names {
		index[m] = len(sets)
		sets = append(sets, ajar.Dataset{Name: clip(db, 255) + "." + clip(m, 255), System: db == internalDB})
	}
	if len(sets) == 0 {
		return sets, names, nil
	}
	// Exact series counts per measurement (InfluxDB 1.4 and later).
	ss, err = c.run(ctx, "SHOW SERIES EXACT CARDINALITY ON "+q)
	if err != nil {
		return sets, names, fmt.Errorf("SHOW SERIES EXACT CARDINALITY: %w", err)
	}
	var total int64
	for _, s := range ss {
		if i, ok := index[s.Name]; ok {
			if n, ok := s.count("count"); ok {
				sets[i].Records = n
				total += n
			}
		}
	}
	for i := range sets {
		sets[i].Bytes = share(disk, sets[i].Records, total)
	}
	for _, stmt := range []struct{ q, col string }{{"SHOW TAG KEYS ON ", "tagKey"}, {"SHOW FIELD KEYS ON ", "fieldKey"}} {
		ss, err = c.run(ctx, stmt.q+q)
		if err != nil {
			return sets, names, fmt.Errorf("%s: %w", strings.TrimSpace(stmt.q), err)
		}
		for _, s := range ss {
			if i, ok := index[s.Name]; ok {
				for _, k := range s.column(stmt.col, maxFields-len(sets[i].Fields)) {
					if !slices.Contains(sets[i].Fields, k) {
						sets[i].Fields = append(sets[i].Fields, clip(k, 128))
					}
				}
			}
		}
	}
	return sets, names, nil
}

// maxFields is the most tag and field keys kept per measurement.
const maxFields = 64

// diskBytes reads the disk bytes of each database's shards from SHOW STATS;
// a server that refuses gives none.
func (c *client) diskBytes(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	ss, err := c.run(ctx, "SHOW STATS FOR 'shard'")
	if err != nil {
		return out
	}
	for _, s := range ss {
		if s.Name != "shard" {
			continue
		}
		if n, ok := s.count("diskBytes"); ok && s.Tags["database"] != "" {
			out[s.Tags["database"]] += n
		}
	}
	return out
}

// sample reads up to n points of a measurement in the database's default
// retention policy.
func (c *client) sample(ctx context.Context, db, m string, n int) ([]map[string]string, error) {
	qdb, ok1 := quoteIdent(db)
	qm, ok2 := quoteIdent(m)
	if !ok1 || !ok2 {
		return nil, nil
	}
	ss, err := c.run(ctx, fmt.Sprintf("SELECT * FROM %s..%s LIMIT %d", qdb, qm, n))
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, s := range ss {
		out = append(out, s.rows(n-len(out))...)
	}
	return out, nil
}

// share apportions total bytes to part of all, without overflow.
func share(total, part, all int64) int64 {
	if total <= 0 || part <= 0 || all <= 0 || part > all {
		return 0
	}
	hi, lo := bits.Mul64(uint64(total), uint64(part))
	q, _ := bits.Div64(hi, lo, uint64(all))
	return int64(q)
}
