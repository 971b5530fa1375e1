package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/ajar-scan/ajar/probe"
)

// MySQL error numbers that mean "you may not log in".
// https://mariadb.com/kb/en/mariadb-error-code-reference/
const (
	erAccessDenied   = 1045 // ER_ACCESS_DENIED_ERROR
	erHostNotAllowed = 1130 // ER_HOST_NOT_PRIVILEGED
	// ER_ACCESS_DENIED_NO_PASSWORD_ERROR: MariaDB refusing an account that
	// has no match for the client (the anonymous user, unix_socket).
	erAccessDeniedNoPassword = 1698
)

// client is one login to the target. Every connection of its database
// handle is dialled through the engine's dialer and read through a guard;
// close releases all of them, whatever state the client library is in.
type client struct {
	ctx    context.Context // the probe's context: bounds every connection
	dialer probe.Dialer
	db     *sql.DB
	conns  *connector

	mu     sync.Mutex
	raw    []*guardConn
	closed sync.Once
}

// openClient prepares a login as user with an empty password. No packet
// is sent before the first query.
func openClient(ctx context.Context, t *probe.Target, user string) (*client, error) {
	s := &client{ctx: ctx, dialer: t.Dialer}
	cfg := gomysql.NewConfig()
	cfg.User = user
	cfg.Passwd = "" // the empty password is the only one ever tried
	cfg.Net = "tcp"
	cfg.Addr = t.Target.AddrPort().String()
	cfg.DialFunc = s.dial
	cfg.Logger = &gomysql.NopLogger{}
	// The driver reads no option file and no environment; these settings
	// also keep it from TLS, from sending a password in clear text and from
	// serving LOAD DATA LOCAL requests.
	cfg.TLS, cfg.TLSConfig = nil, ""
	cfg.AllowAllFiles = false
	cfg.AllowCleartextPasswords = false
	cfg.AllowOldPasswords = false
	cfg.AllowNativePasswords = true
	cfg.MultiStatements = false
	// Arguments are escaped by the client: no prepared statements are
	// left on the server.
	cfg.InterpolateParams = true
	c, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure client: %w", err)
	}
	s.conns = &connector{inner: c}
	s.db = sql.OpenDB(s.conns)
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	return s, nil
}

// dial opens a connection to the target, and only to it. The connection
// lives as long as the probe's context, not the context of the query that
// happened to open it.
func (s *client) dial(_ context.Context, network, addr string) (net.Conn, error) {
	c, err := s.dialer.DialAddr(s.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := s.ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			c.Close()
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	g := &guardConn{Conn: c}
	s.mu.Lock()
	s.raw = append(s.raw, g)
	s.mu.Unlock()
	return g, nil
}

// state reports what the last connection's guard saw.
func (s *client) state() connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.raw) == 0 {
		return connState{}
	}
	return s.raw[len(s.raw)-1].state()
}

// explain adds to a client library error what the last connection saw:
// the guard's verdict, or the socket error the library reports only as
// "invalid connection".
func (s *client) explain(err error) error {
	st := s.state()
	switch {
	case st.err != nil:
		return st.err
	case st.readErr != nil && errors.Is(err, gomysql.ErrInvalidConn):
		return fmt.Errorf("%w: %w", err, st.readErr)
	}
	return err
}

// loggedIn reports whether a login succeeded.
func (s *client) loggedIn() bool { return s.conns.opened() > 0 }

// close releases the handle, every driver connection (also one the handle
// lost track of) and every socket.
func (s *client) close() {
	s.closed.Do(func() {
		_ = s.db.Close()
		s.conns.closeAll()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.raw {
			_ = c.Close()
		}
	})
}

// connector wraps the driver's connector to remember the connections it
// opens, so that they can be closed even when database/sql cannot.
type connector struct {
	inner driver.Connector
	mu    sync.Mutex
	conns []driver.Conn
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.conns = append(c.conns, dc)
	c.mu.Unlock()
	return dc, nil
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

func (c *connector) opened() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

func (c *connector) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, dc := range c.conns {
		_ = dc.Close() // idempotent in the driver
	}
	c.conns = nil
}

// denied returns the server's message when err refuses the login.
func denied(err error) (string, bool) {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return "", false
	}
	switch me.Number {
	case erAccessDenied, erHostNotAllowed, erAccessDeniedNoPassword:
		return clip(me.Message, maxText), true
	}
	return "", false
}
