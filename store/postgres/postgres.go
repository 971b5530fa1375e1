// Package postgres is the shared ajar.Store on PostgreSQL: the same scans,
// event log and exposures as store/sqlite, for a cluster of scanning workers.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ajar-scan/ajar"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLock is the advisory lock key that serialises migrations, so that
// many workers starting at once against a new database apply them once.
const migrateLock = 0x616a6172_6d696772 // "ajarmigr"

// Store is the PostgreSQL ajar.Store. It is safe for concurrent use, by many
// goroutines and many processes: writers of one exposure key take a
// transaction-scoped advisory lock on it, so its timeline is read and
// advanced by one transaction at a time.
//
// Events are stored whole as their ajar/1 JSON, so they round-trip exactly
// (times in UTC with their nanoseconds), except that an empty non-nil slice
// or map in a field marked omitempty comes back nil. The other times (scans,
// keys, disclosures, the outbox) and the time columns that searches compare
// keep microseconds.
//
// Beyond ajar.Store it answers the search language (ajar.Searcher) and keeps
// what `ajar serve` needs (ajar.KeyStore, ajar.DisclosureStore,
// ajar.AlertStore, ajar.EventLog), with the embedded store's behaviour.
type Store struct {
	pool *pgxpool.Pool
	// name says which database this is in errors, without the password.
	name string
}

var _ ajar.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and applies the migrations it lacks. Settings missing
// from dsn are taken from the PG* environment variables, as libpq does.
// Open reaches the database before it returns, so a wrong address or
// password fails here.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: parse PostgreSQL address: %w", err)
	}
	s := &Store{name: describe(cfg)}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", s.name, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open store %s: %w", s.name, err)
	}
	return s, nil
}

// describe names a database for people: user@host:port/db, no password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, hostPort(c.Host, c.Port), c.Database)
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return host // a Unix socket directory
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}

// Name returns the database the store is connected to, without credentials.
func (s *Store) Name() string { return s.name }

// Close releases the store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_what.sql; NNNN is its version.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name does not start with a version number and '_'", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks, in one transaction
// that holds an advisory lock, so that concurrent Opens apply each once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY,
		name    text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	if current > latest {
		return fmt.Errorf("database schema version %d is newer than this ajar knows (%d): use a newer ajar", current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if current > 0 && current < searchVersion && latest >= searchVersion {
		// Indexed with the code that indexes new events, once the schema
		// is the one that code writes to.
		if err := reindex(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// IsTransient reports whether err may go away when the same call is made
// again: the database could not be reached, the connection broke, the
// server is starting or shutting down, or a transaction lost a deadlock.
// An error about the data itself (an invalid event) is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return transientCode(pe.Code)
	}
	// Anything else comes from the connection: dial errors, resets, EOF.
	return !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, ajar.ErrNotFound)
}

// transientCode reports whether a SQLSTATE names a passing condition.
// See https://www.postgresql.org/docs/current/errcodes-appendix.html.
func transientCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case code == "40001", code == "40P01": // serialization failure, deadlock
		return true
	case code == "57P01", code == "57P02", code == "57P03": // shutdown, crash, cannot connect now
		return true
	case code == "53300": // too many connections
		return true
	}
	return false
}

// InvalidError is an event the store refuses whatever the database's state.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

func invalid(format string, a ...any) error { return &InvalidError{fmt.Sprintf(format, a...)} }
