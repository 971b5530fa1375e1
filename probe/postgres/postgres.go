// Package postgres probes PostgreSQL servers that let the postgres superuser in
// without a password, and lists what it can read: databases, tables, rows.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// Name is the plugin name.
const Name = "postgresql"

// Product is the product name reported for servers that speak the protocol.
const Product = "PostgreSQL"

// DefaultStatementTimeout bounds each statement the probe runs on the server
// when Prober.StatementTimeout is zero.
const DefaultStatementTimeout = 5 * time.Second

// maxEvidence bounds the response excerpt of the evidence.
const maxEvidence = 512

// closeTimeout bounds the polite goodbye (a Terminate message) on each
// connection, also when the probe's context has ended.
const closeTimeout = time.Second

// Prober is the PostgreSQL plugin. The zero value is ready to use.
type Prober struct {
	// StatementTimeout bounds each statement on the server, count(*)
	// included; zero means DefaultStatementTimeout. It is shortened to a
	// quarter of the time left to the probe.
	StatementTimeout time.Duration
}

var _ probe.Prober = (*Prober)(nil)

func init() { probe.Register(&Prober{}) }

// Name returns "postgresql".
func (*Prober) Name() string { return Name }

// Protocols returns the protocols the prober understands.
func (*Prober) Protocols() []string { return []string{"postgresql"} }

// DefaultPorts returns 5432.
func (*Prober) DefaultPorts() []uint16 { return []uint16{5432} }

// Probe logs in as postgres without a password, to database postgres or,
// when that does not exist, template1. A server that asks for a password or
// refuses the role is protected. Once in, it reads the version and the
// catalog of every database that accepts connections, in read-only sessions
// with a statement timeout, and counts rows exactly below the count cap.
func (p *Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	fail := func(what string, err error) error {
		return fmt.Errorf("%s: %w", what, err)
	}
	if t.Dialer == nil {
		return &probe.Result{Status: ajar.StatusOpen}, fail("connect", errors.New("no dialer"))
	}
	s := &session{
		target:  t,
		opts:    withDefaults(t.Options),
		timeout: p.statementTimeout(ctx),
	}

	conn, db, err := s.login(ctx)
	if err != nil {
		r := classify(err)
		res := &probe.Result{Status: r.Status, Detail: r.Detail}
		if r.Postgres {
			res.Product = Product
		}
		if r.Status == ajar.StatusProtected {
			return res, nil
		}
		return res, fail("connect as "+User+" without password", err)
	}
	defer closeConn(ctx, conn)

	res := &probe.Result{
		Status:  ajar.StatusExposed,
		Product: Product,
		Exposure: &ajar.Exposure{
			Plugin: Name,
			Access: ajar.AccessRead,
			Evidence: &ajar.Evidence{
				Request: "connect as " + User + " without password to database " + db,
			},
		},
	}
	what, err := s.inventory(ctx, conn, db, res)
	res.Exposure.Total()
	if err != nil {
		return res, fail(what, err)
	}
	return res, nil
}

// statementTimeout is the statement_timeout of the probe's sessions.
func (p *Prober) statementTimeout(ctx context.Context) time.Duration {
	d := p.StatementTimeout
	if d <= 0 {
		d = DefaultStatementTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/4)
	}
	return max(d, 10*time.Millisecond)
}

// withDefaults fills the options a caller left at zero.
func withDefaults(o probe.Options) probe.Options {
	def := probe.DefaultOptions()
	if o.CountCap <= 0 {
		o.CountCap = def.CountCap
	}
	if o.MaxDatasets <= 0 {
		o.MaxDatasets = def.MaxDatasets
	}
	return o
}

// session is the state of one probe.
type session struct {
	target  *probe.Target
	opts    probe.Options
	timeout time.Duration
	// samples are the raw rows read so far, for the exposure.
	samples []ajar.Sample
}

// connect opens a read-only session on database db of the target.
func (s *session) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cc, err := connConfig(s.target.AddrPort(), s.target.Dialer.DialAddr, db, s.timeout)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
}

// login connects to the database every cluster has: postgres, or template1
// where postgres was dropped.
func (s *session) login(ctx context.Context) (*pgx.Conn, string, error) {
	var err error
	for _, db := range []string{"postgres", "template1"} {
		var c *pgx.Conn
		c, err = s.connect(ctx, db)
		if err == nil {
			return c, db, nil
		}
		if !hasCode(err, codeNoDatabase) {
			break
		}
	}
	return nil, "", err
}

// inventory fills res from the open session conn on database db. On error
// it says what it was doing; res then holds what was read before.
func (s *session) inventory(ctx context.Context, conn *pgx.Conn, db string, res *probe.Result) (string, error) {
	exp := res.Exposure
	var excerpt []string
	defer func() {
		exp.Evidence.Response = clip(strings.Join(excerpt, "; "), maxEvidence)
		exp.Samples = s.samples
	}()

	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "read server_version", err
	}
	// "15.20 (Debian 15.20-0+deb12u1)": the version is the first word; the
	// evidence keeps the whole string.
	res.Version = clip(version, 64)
	if f := strings.Fields(version); len(f) > 0 {
		res.Version = clip(f[0], 64)
	}
	exp.Evidence.Request += "; SHOW server_version"
	excerpt = append(excerpt, "server_version="+clip(version, 64))
	versionNum, _ := parseVersion(version)

	var super bool
	err := conn.QueryRow(ctx, superuserQuery).Scan(&super)
	switch {
	case err == nil:
		exp.Evidence.Request += "; " + superuserQuery
		excerpt = append(excerpt, "rolsuper="+strconv.FormatBool(super))
		if super {
			exp.Access = ajar.AccessAdmin
		}
	case !statementFailed(err):
		return "read rolsuper", err
	}

	dbs, err := listDatabases(ctx, conn, s.opts.MaxDatasets)
	if err != nil {
		return "list databases", err
	}
	exp.Evidence.Request += "; " + databasesQuery
	excerpt = append(excerpt, "databases: "+strings.Join(dbs, ", "))

	refused := 0
	for _, name := range dbs {
		left := s.opts.MaxDatasets - len(exp.Datasets)
		if left <= 0 {
			break
		}
		c := conn
		if name != db {
			c, err = s.connect(ctx, name)
			if err != nil {
				if errors.As(err, new(*pgconn.PgError)) {
					// pg_hba.conf or CONNECT privileges may close some
					// databases to the role: the others still count.
					refused++
					continue
				}
				return "connect to database " + strconv.Quote(name), err
			}
		}
		sets, err := s.datasets(ctx, c, name, versionNum, left)
		exp.Datasets = append(exp.Datasets, sets...)
		if c != conn {
			closeConn(ctx, c)
		}
		if err != nil && !statementFailed(err) {
			return "list tables of database " + strconv.Quote(name), err
		}
	}
	if refused > 0 {
		res.Detail = fmt.Sprintf("%d of %d databases refused the connection", refused, len(dbs))
	}
	return "", nil
}

// statementFailed reports whether err is the server refusing one statement
// (an ErrorResponse) rather than the connection failing: the session is
// still usable after it.
func statementFailed(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && !strings.EqualFold(pgErr.Severity, "FATAL") && !strings.EqualFold(pgErr.Severity, "PANIC")
}

// closeConn ends a session, also when ctx has ended.
func closeConn(ctx context.Context, c *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = c.Close(cctx)
}
