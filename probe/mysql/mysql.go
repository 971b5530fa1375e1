// Package mysql probes MySQL and MariaDB servers: it tries the empty-password
// logins nmap's mysql-empty-password tries and lists what they can read.
package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

var _ probe.Prober = (*Prober)(nil)

const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// defaultCountTimeout bounds one exact count on the server.
	defaultCountTimeout = 5 * time.Second
)

// logins are the accounts tried, both with an empty password: root, then
// the anonymous user. No other password is ever tried.
var logins = []string{"root", ""}

// Prober is the MySQL and MariaDB plugin. The zero value is ready to use.
type Prober struct {
	// CountTimeout bounds each exact count(*) on the server; a count that
	// takes longer falls back to the server's estimate. Zero means 5s.
	CountTimeout time.Duration
}

// Name is "mysql".
func (*Prober) Name() string { return "mysql" }

// Protocols is the MySQL client/server protocol, spoken by both products.
func (*Prober) Protocols() []string { return []string{"mysql"} }

// DefaultPorts is the IANA port of MySQL.
func (*Prober) DefaultPorts() []uint16 { return []uint16{3306} }

// Probe logs in as root, then as the anonymous user, with an empty
// password. When one is accepted it reads the version, the grants and the
// catalogue of user tables, with exact counts up to the count cap. Both
// refused means protected; anything else leaves the port open with an
// error.
func (p *Prober) Probe(ctx context.Context, t *probe.Target) (res *probe.Result, err error) {
	if t == nil || t.Dialer == nil {
		return nil, errors.New("probe mysql: no target dialer")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	// Ending the context also ends the client library's watchers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r := &run{p: p, t: t, res: &probe.Result{Status: ajar.StatusOpen}}
	defer func() {
		// The client library indexes packets without bounds checks; a
		// server that trips it costs this probe, not the scan.
		if v := recover(); v != nil {
			res, err = r.res, fmt.Errorf("client library failed on the server's answer: %v", v)
		}
	}()
	if err := r.probe(ctx); err != nil {
		return r.res, err
	}
	return r.res, nil
}

// run is one probe of one target.
type run struct {
	p   *Prober
	t   *probe.Target
	res *probe.Result
}

// who names an account for people.
func who(user string) string {
	if user == "" {
		return "anonymous user"
	}
	return user
}

func (r *run) probe(ctx context.Context) error {
	var refusals []string
	for _, user := range logins {
		s, err := openClient(ctx, r.t, user)
		if err != nil {
			return err
		}
		// Deferred as well as closed below: a panic in the client library
		// must not leave a connection behind.
		defer s.close()
		version, err := s.version(ctx)
		if err == nil || s.loggedIn() {
			return r.inventory(ctx, s, user, version, err)
		}
		st := s.state()
		s.close()
		r.noteGreeting(st.greeting, st.seen)
		msg, ok := denied(err)
		if !ok {
			return fmt.Errorf("login %s with empty password: %w", who(user), s.explain(err))
		}
		refusals = append(refusals, who(user)+": "+msg)
	}
	r.res.Status = ajar.StatusProtected
	r.res.Detail = strings.Join(refusals, "; ")
	return nil
}

// noteGreeting takes product and version from the server's first packet.
func (r *run) noteGreeting(g greeting, seen bool) {
	if !seen || r.res.Product != "" {
		return
	}
	switch {
	case g.Version != "":
		r.res.Product, r.res.Version = productOf(g.Version), versionNumber(g.Version)
	case strings.Contains(g.ErrMsg, "MariaDB"):
		r.res.Product = "MariaDB"
	case strings.Contains(g.ErrMsg, "MySQL"):
		r.res.Product = "MySQL"
	}
}

// inventory fills the exposure once user is logged in. verr is the error
// of SELECT VERSION(), when that failed after the login.
func (r *run) inventory(ctx context.Context, s *client, user, version string, verr error) error {
	if st := s.state(); st.seen && version == "" {
		version = st.greeting.Version
	}
	r.res.Status = ajar.StatusExposed
	r.res.Product, r.res.Version = productOf(version), versionNumber(version)
	r.res.Detail = who(user) + " with empty password accepted"
	exp := &ajar.Exposure{Plugin: r.p.Name(), Access: ajar.AccessRead, Datasets: []ajar.Dataset{}}
	r.res.Exposure = exp
	ev := evidence{request: []string{"login " + who(user) + " with empty password", "SELECT VERSION()"}}
	if version != "" {
		ev.add("version: " + version)
	}
	defer func() { exp.Evidence = ev.build() }()

	var errs []error
	if verr != nil {
		errs = append(errs, fmt.Errorf("read version: %w", s.explain(verr)))
	}

	ev.request = append(ev.request, "SHOW GRANTS")
	admin, grant, err := s.admin(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("read grants: %w", err))
	}
	if admin {
		exp.Access = ajar.AccessAdmin
		ev.add("grant: " + grant)
	}

	opt := r.t.Options
	if opt.MaxDatasets <= 0 {
		opt.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}
	if opt.CountCap <= 0 {
		opt.CountCap = probe.DefaultOptions().CountCap
	}
	ev.request = append(ev.request, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES")
	tables, truncated, err := s.tables(ctx, opt.MaxDatasets)
	if err != nil {
		errs = append(errs, fmt.Errorf("list tables: %w", err))
		return errors.Join(errs...)
	}
	for _, tb := range tables {
		ev.add(fmt.Sprintf("%s.%s rows=%d data_length=%d", tb.schema, tb.name, tb.rows, tb.bytes))
	}
	if err := s.columns(ctx, tables, truncated); err != nil {
		errs = append(errs, fmt.Errorf("list columns: %w", err))
	}
	r.count(ctx, s, productOf(version), tables, opt.CountCap)
	exp.Samples = r.sample(ctx, s, productOf(version), tables, opt.Samples)

	for _, tb := range tables {
		exp.Datasets = append(exp.Datasets, ajar.Dataset{
			Name:      tb.schema + "." + tb.name,
			Records:   tb.rows,
			Bytes:     tb.bytes,
			Fields:    tb.fields,
			Estimated: tb.estimated,
		})
	}
	exp.Total()
	return errors.Join(errs...)
}

// count replaces the server's row estimates by exact counts for tables
// estimated below countCap, each under a server-side time limit. A count
// that fails or times out keeps the estimate.
func (r *run) count(ctx context.Context, s *client, product string, tables []table, countCap int64) {
	per := r.p.CountTimeout
	if per <= 0 {
		per = defaultCountTimeout
	}
	for i := range tables {
		tb := &tables[i]
		tb.estimated = true
		if tb.rowsKnown && tb.rows >= countCap {
			continue
		}
		// Leave a margin for the rest of the probe and for closing.
		limit := per
		if dl, ok := ctx.Deadline(); ok {
			limit = min(limit, time.Until(dl)-time.Second)
		}
		if limit < 10*time.Millisecond || ctx.Err() != nil {
			continue
		}
		n, err := s.count(ctx, product, tb.schema, tb.name, limit)
		if err != nil {
			continue
		}
		tb.rows, tb.estimated = n, false
	}
}

// sample reads at most n rows of each table that has rows, for the
// classifier (enrich redacts them before they are stored), each read under
// the same server-side time limit as a count. A table that cannot be read
// in time is left unsampled.
func (r *run) sample(ctx context.Context, s *client, product string, tables []table, n int) []ajar.Sample {
	if n <= 0 {
		return nil
	}
	per := r.p.CountTimeout
	if per <= 0 {
		per = defaultCountTimeout
	}
	var out []ajar.Sample
	sampled := 0
	for _, tb := range tables {
		if tb.rows == 0 || len(tb.fields) == 0 || sampled >= maxSampledTables {
			continue
		}
		limit := per
		if dl, ok := ctx.Deadline(); ok {
			limit = min(limit, time.Until(dl)-time.Second)
		}
		if limit < 10*time.Millisecond || ctx.Err() != nil {
			break
		}
		sampled++
		docs, err := s.rows(ctx, product, tb, n, limit)
		if err != nil {
			continue
		}
		for _, d := range docs {
			out = append(out, ajar.Sample{Dataset: tb.schema + "." + tb.name, Doc: d})
		}
	}
	return out
}

// maxEvidence bounds the response excerpt of the evidence.
const maxEvidence = 512

// evidence collects the requests made and an excerpt of the answers.
type evidence struct {
	request  []string
	response strings.Builder
}

// add appends one line to the excerpt while it has room.
func (e *evidence) add(line string) {
	if e.response.Len() >= maxEvidence {
		return
	}
	if e.response.Len() > 0 {
		e.response.WriteString("\n")
	}
	e.response.WriteString(line)
}

func (e *evidence) build() *ajar.Evidence {
	return &ajar.Evidence{
		Request:  strings.Join(e.request, "; "),
		Response: clip(e.response.String(), maxEvidence),
	}
}
