// Package pgtest gives tests a fresh PostgreSQL database on the machine's
// server (127.0.0.1:5432, user postgres), dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is the PostgreSQL server the tests use. Every part of the address
// is spelled out: pgx fills what is missing from PG* environment variables,
// and a test must not depend on them.
const (
	Host = "127.0.0.1"
	Port = 5432
	User = "postgres"
)

// DSN returns the URL of database db on server host:port as user.
func DSN(host string, port int, user, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Host:     fmt.Sprintf("%s:%d", host, port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable&connect_timeout=5",
	}
	return u.String()
}

// NewDatabase creates an empty database on the machine's server and drops
// it, with every connection to it, when the test ends. It returns the
// database's URL. A server that cannot be reached fails the test.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return NewDatabaseOn(t, Host, Port)
}

// NewDatabaseOn is NewDatabase on another server (one a test started).
func NewDatabaseOn(t testing.TB, host string, port int) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "ajar_test_" + hex.EncodeToString(b[:])
	admin := DSN(host, port, User, "postgres")
	if err := exec(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on %s:%d (PostgreSQL must run there, user %s, trust auth): %v", host, port, User, err)
	}
	t.Cleanup(func() {
		if err := exec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return DSN(host, port, User, name)
}

// WithSchema returns dsn with search_path set to schema, after creating it:
// stores opened on it keep their tables apart from other schemas'.
func WithSchema(t testing.TB, dsn, schema string) string {
	t.Helper()
	if err := exec(dsn, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", dsn, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}
