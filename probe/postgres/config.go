package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/ajar-scan/ajar/probe"
)

// User is the role the probe logs in as: the built-in superuser, with no
// password (what a `trust` line in pg_hba.conf lets through).
const User = "postgres"

// ApplicationName is what the probe reports as application_name, so that an
// operator reading pg_stat_activity or the server log sees who connected.
const ApplicationName = "ajar"

// maxMessageLen bounds one protocol message from the server. Catalog rows and
// error messages are far smaller; a hostile server announcing a larger message
// is refused before its body is read.
const maxMessageLen = 1 << 20

// pinnedSettings names, in the connection string, every setting that a PG*
// environment variable, a service file or a password file could otherwise
// supply: pgconn.ParseConfig gives the connection string precedence over
// both, so none of them is read. Empty file names make the password and
// service files unreadable. require_auth=none makes pgx refuse any
// authentication request before it sends a credential, an empty password
// included. See https://www.postgresql.org/docs/current/libpq-envars.html
// and https://www.postgresql.org/docs/current/libpq-connect.html.
const pinnedSettings = "user=" + User + " password='' passfile='' servicefile=''" +
	" sslmode=disable sslcert='' sslkey='' sslrootcert='' sslcertmode=disable sslpassword=''" +
	" sslsni=0 sslnegotiation=postgres connect_timeout=0 target_session_attrs=any" +
	" min_protocol_version=3.0 max_protocol_version=3.0 channel_binding=disable require_auth=none" +
	" krbsrvname='' krbspn=''"

// connConfig returns a configuration that connects to the target only,
// through dial, as User without a password, to database db, without TLS,
// and that makes the session read-only with statementTimeout before the
// caller sees it. Nothing in it comes from the environment or from files.
//
// One setting cannot be pinned: a PGSERVICE variable makes ParseConfig look
// the service up even when the connection string names the file as empty,
// and the lookup then fails. That is an error before anything is sent.
func connConfig(target netip.AddrPort, dial pgconn.DialFunc, db string, statementTimeout time.Duration) (*pgx.ConnConfig, error) {
	host := target.Addr().String()
	// The host and port are an address and a number: nothing here needs
	// quoting. db, which a server may have named, is set below, never parsed.
	cs := "host=" + host + " port=" + strconv.Itoa(int(target.Port())) + " dbname=postgres " + pinnedSettings
	cc, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("build connection settings: %w", err)
	}

	// Set again every field that reaches the wire, whatever ParseConfig
	// derived: the guarantee must not rest on its merge order alone.
	cc.Host = host
	cc.Port = target.Port()
	cc.Database = db
	cc.User = User
	cc.Password = ""
	cc.TLSConfig = nil
	cc.Fallbacks = nil
	cc.SSLNegotiation = ""
	cc.SSLCertMode = "disable"
	cc.ConnectTimeout = 0 // the context bounds the connect
	cc.DialFunc = dial
	cc.LookupFunc = lookupOnly(host)
	cc.RuntimeParams = map[string]string{"application_name": ApplicationName}
	cc.KerberosSrvName = ""
	cc.KerberosSpn = ""
	cc.OAuthTokenProvider = nil
	cc.MinProtocolVersion = "3.0"
	cc.MaxProtocolVersion = "3.0"
	cc.ChannelBinding = "disable"
	cc.RequireAuth = "none"
	cc.MaxProtocolMessageBodyLen = maxMessageLen
	cc.AfterNetConnect = nil
	cc.ValidateConnect = nil
	cc.AfterConnect = readOnlySession(statementTimeout)
	cc.OnNotice = nil
	cc.OnNotification = nil
	// A cancelled context interrupts the socket; it never opens a second
	// connection to send a cancel request.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cc.Tracer = nil
	cc.StatementCacheCapacity = 0
	cc.DescriptionCacheCapacity = 0
	// The simple query protocol: one round trip per statement and no
	// prepared statements left on the server.
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return cc, nil
}

// lookupOnly resolves nothing: it answers the target's own address and
// refuses any other name, so that no DNS query is ever sent.
func lookupOnly(host string) pgconn.LookupFunc {
	return func(_ context.Context, name string) ([]string, error) {
		if name != host {
			return nil, fmt.Errorf("look up %q: %w", name, probe.ErrNotTarget)
		}
		return []string{host}, nil
	}
}

// readOnlySession makes every transaction of the session read-only and
// bounds each statement, before the connection is handed out.
// See https://www.postgresql.org/docs/current/sql-set-transaction.html.
func readOnlySession(statementTimeout time.Duration) pgconn.AfterConnectFunc {
	ms := max(statementTimeout.Milliseconds(), 1)
	sql := "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; " +
		"SET statement_timeout = " + strconv.FormatInt(ms, 10) + "; " +
		"SET lock_timeout = " + strconv.FormatInt(ms, 10)
	return func(ctx context.Context, c *pgconn.PgConn) error {
		if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
			return fmt.Errorf("make the session read-only: %w", err)
		}
		return nil
	}
}
