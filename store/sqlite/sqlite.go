// Package sqlite is the embedded ajar.Store: one SQLite file (pure Go, no cgo)
// holding the scans, the append-only event log and the exposures derived from it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeout is how long a statement waits, in milliseconds, for a lock held
// by another process that has the same file open.
const busyTimeout = 5000

// readers is the size of the read connection pool. WAL mode lets readers run
// beside the one writer; a few connections are enough for the server and CLI.
const readers = 4

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the embedded ajar.Store. It is safe for concurrent use: writes
// go through one connection, one transaction at a time, and reads through a
// pool of read-only connections that see the last committed state.
//
// Times come back in UTC with their nanoseconds. Events are stored as their
// ajar/1 JSON form, so they round-trip exactly, except that an empty non-nil
// slice or map in a field marked omitempty comes back nil.
type Store struct {
	path string
	// w has a single connection: SQLite allows one writer at a time, and
	// one connection makes concurrent writers queue in Go instead of
	// failing with SQLITE_BUSY.
	w *sql.DB
	r *sql.DB
	// stmts are Record's statements, prepared on w: preparing them on
	// every call costs about as much as running them.
	stmts struct {
		exposure, event, upsert *sql.Stmt
	}

	// afterEvent, when set, runs inside Record between the event insert
	// and the exposure upsert. Tests use it to cancel a Record midway.
	afterEvent func()
}

var _ ajar.Store = (*Store)(nil)

// Open opens the database at path, creating it and its parent directory
// (mode 0700) when they are missing, and applies the migrations it lacks.
// Open writes to the database before it returns, so a path that cannot be
// created or written fails here, with an error naming the path, rather than
// at the first Record.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: no database path given")
	}
	if path == ":memory:" {
		return nil, errors.New("open store: an in-memory database is not supported; give a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: resolve path: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: create its directory: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open store %s: is a directory, not a database file", path)
	}

	s := &Store{path: path}
	s.w, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Statistics for the query planner, bounded in time for a large file
	// (https://sqlite.org/pragma.html#pragma_optimize: 0x10002 on open).
	_, _ = s.w.ExecContext(ctx, "PRAGMA optimize=0x10002")

	for _, st := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.stmts.exposure, selectExposure},
		{&s.stmts.event, insertEvent},
		{&s.stmts.upsert, upsertExposure},
	} {
		if *st.dst, err = s.w.PrepareContext(ctx, st.query); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store %s: prepare statements: %w", path, err)
		}
	}

	s.r, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: open a read connection: %w", path, err)
	}
	return s, nil
}

// dsn builds the driver's name for the database file at abs. The path goes
// in a file: URI, escaped, so that a '?' or '%' in it is part of the name.
// synchronous=NORMAL in WAL mode never corrupts the file; a power cut may
// lose the last transactions, which a rescan finds again.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.Itoa(busyTimeout))
	q.Set("_foreign_keys", "1")
	// Searches over a million exposures read a large part of the file:
	// map it, and keep a larger page cache than the 2 MB default.
	q.Add("_pragma", "mmap_size(1073741824)")
	q.Add("_pragma", "cache_size(-65536)")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		// BEGIN IMMEDIATE takes the write lock at the start of a
		// transaction, so a read-then-write transaction cannot fail
		// half-way with SQLITE_BUSY when another process writes.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Close releases the store.
func (s *Store) Close() error {
	var errs []error
	// Let SQLite refresh the statistics its query planner uses, where they
	// are stale (cheap; https://sqlite.org/pragma.html#pragma_optimize).
	if s.w != nil {
		_, _ = s.w.Exec("PRAGMA optimize")
	}
	for _, st := range []*sql.Stmt{s.stmts.exposure, s.stmts.event, s.stmts.upsert} {
		if st != nil {
			if err := st.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.r != nil {
		if err := s.r.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
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

// migrate applies the migrations the database lacks, in one write
// transaction. It always writes (PRAGMA user_version), so that an
// unwritable database fails now even when it is up to date.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
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
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	// PRAGMA does not take bound parameters; latest is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", latest)); err != nil {
		return fmt.Errorf("write to the database: %w", err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
