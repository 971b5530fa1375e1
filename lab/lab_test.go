package lab_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// TestEnv checks that lab.env, which the shell scripts read, says what
// lab.go says.
func TestEnv(t *testing.T) {
	f, err := os.Open("lab.env")
	if err != nil {
		t.Fatalf("open lab.env: %v", err)
	}
	defer f.Close()
	env := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("lab.env: not an assignment: %q", line)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read lab.env: %v", err)
	}
	itoa := strconv.Itoa
	want := map[string]string{
		"LAB_REDIS_OPEN":     lab.RedisOpen,
		"LAB_REDIS_SECURED":  lab.RedisSecured,
		"LAB_MYSQL_OPEN":     lab.MySQLOpen,
		"LAB_MYSQL_SECURED":  lab.MySQLSecured,
		"LAB_PG_OPEN":        lab.PGOpen,
		"LAB_PG_SECURED":     lab.PGSecured,
		"LAB_REDIS_PASSWORD": lab.RedisPassword,
		"LAB_MYSQL_PASSWORD": lab.MySQLPassword,
		"LAB_PG_PASSWORD":    lab.PGPassword,
		"LAB_REDIS_PERSONS":  itoa(lab.RedisPersons),
		"LAB_REDIS_ORDERS":   itoa(lab.RedisOrders),
		"LAB_SQL_PERSONS":    itoa(lab.SQLPersons),
		"LAB_SQL_CASES":      itoa(lab.SQLCases),
		"LAB_SQL_ORDERS":     itoa(lab.SQLOrders),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("lab.env: %s=%q, lab.go says %q", k, env[k], v)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRedis(t *testing.T) {
	want := fake.New(lab.Seed).Person(lab.RedisPersons)
	tests := []struct {
		name, addr, password string
	}{
		{"open", lab.RedisOpen, ""},
		{"secured", lab.RedisSecured, lab.RedisPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab.Require(t, tt.addr)
			ctx := testContext(t)
			rc, err := dialRESP(ctx, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()

			// Without a password: the open one answers, the secured one
			// refuses.
			_, err = rc.do("DBSIZE")
			var re respError
			if tt.password == "" && err != nil {
				t.Fatalf("DBSIZE without a password: %v", err)
			}
			if tt.password != "" {
				if !errors.As(err, &re) || !strings.HasPrefix(string(re), "NOAUTH") {
					t.Fatalf("DBSIZE without a password: %v, want NOAUTH", err)
				}
				if _, err := rc.do("AUTH", "wrong-"+tt.password); !errors.As(err, &re) {
					t.Fatalf("AUTH with a wrong password: %v, want an error reply", err)
				}
				if v, err := rc.do("AUTH", tt.password); err != nil || v != "OK" {
					t.Fatalf("AUTH with the lab password: %v %v", v, err)
				}
			}

			for db, n := range []int64{lab.RedisPersons, lab.RedisOrders} {
				if _, err := rc.do("SELECT", strconv.Itoa(db)); err != nil {
					t.Fatalf("SELECT %d: %v", db, err)
				}
				if got, err := rc.do("DBSIZE"); err != nil || got != n {
					t.Errorf("db%d: DBSIZE = %v (%v), want %d", db, got, err, n)
				}
			}
			if _, err := rc.do("SELECT", "0"); err != nil {
				t.Fatalf("SELECT 0: %v", err)
			}
			v, err := rc.do("HGETALL", "person:02000")
			if err != nil {
				t.Fatalf("HGETALL person:02000: %v", err)
			}
			fields := make(map[string]any)
			if items, ok := v.([]any); ok {
				for i := 0; i+1 < len(items); i += 2 {
					fields[items[i].(string)] = items[i+1]
				}
			}
			for k, w := range map[string]string{"name": want.Name, "mobile": want.Mobile, "id_number": want.IDNumber, "address": want.Address} {
				if fields[k] != w {
					t.Errorf("person:02000 %s = %v, want %q", k, fields[k], w)
				}
			}
			if len(fields) != 4 {
				t.Errorf("person:02000 has %d fields, want 4", len(fields))
			}
		})
	}
}

// sqlCounts are the row counts of the seeded tables.
func sqlCounts(ctx context.Context, query func(ctx context.Context, q string) (int64, error)) (map[string]int64, error) {
	counts := make(map[string]int64)
	for _, table := range []string{"police.person_info", "police.case_record", "shop.orders"} {
		n, err := query(ctx, table)
		if err != nil {
			return nil, err
		}
		counts[table] = n
	}
	return counts, nil
}

var wantCounts = map[string]int64{
	"police.person_info": lab.SQLPersons,
	"police.case_record": lab.SQLCases,
	"shop.orders":        lab.SQLOrders,
}

func checkCounts(t *testing.T, got map[string]int64) {
	t.Helper()
	for table, n := range wantCounts {
		if got[table] != n {
			t.Errorf("%s: %d rows, want %d", table, got[table], n)
		}
	}
}

func openMySQL(ctx context.Context, addr, user, password string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.User = user
	cfg.Passwd = password
	cfg.Timeout = 5 * time.Second
	cfg.ReadTimeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func TestMySQL(t *testing.T) {
	want := fake.New(lab.Seed).Person(1)
	tests := []struct {
		name, addr, password string
	}{
		{"open", lab.MySQLOpen, ""},
		{"secured", lab.MySQLSecured, lab.MySQLPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab.Require(t, tt.addr)
			ctx := testContext(t)
			if tt.password != "" {
				// No account may log in over TCP without a password.
				for _, user := range []string{"root", "", "mysql", "mariadb.sys"} {
					db, err := openMySQL(ctx, tt.addr, user, "")
					if err == nil {
						db.Close()
						t.Errorf("user %q logged in without a password", user)
						continue
					}
					// 1045 access denied, 1698 access denied without a
					// password, 4151 account locked.
					var me *mysql.MySQLError
					if !errors.As(err, &me) || (me.Number != 1045 && me.Number != 1698 && me.Number != 4151) {
						t.Errorf("user %q without a password: %v, want access denied", user, err)
					}
				}
				if db, err := openMySQL(ctx, tt.addr, "root", "wrong-"+tt.password); err == nil {
					db.Close()
					t.Error("root logged in with a wrong password")
				}
			}
			db, err := openMySQL(ctx, tt.addr, "root", tt.password)
			if err != nil {
				t.Fatalf("log in as root with password %q: %v", tt.password, err)
			}
			defer db.Close()
			counts, err := sqlCounts(ctx, func(ctx context.Context, table string) (n int64, err error) {
				err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
				return n, err
			})
			if err != nil {
				t.Fatalf("count rows: %v", err)
			}
			checkCounts(t, counts)
			var name, idNumber string
			if err := db.QueryRowContext(ctx, "SELECT name, id_number FROM police.person_info WHERE id = 1").Scan(&name, &idNumber); err != nil {
				t.Fatalf("read person 1: %v", err)
			}
			if name != want.Name || idNumber != want.IDNumber {
				t.Errorf("person 1 = %s %s, want %s %s", name, idNumber, want.Name, want.IDNumber)
			}
		})
	}
}

// pgConfig returns a configuration with every connection parameter set here:
// pgx would otherwise take PG* variables and ~/.pgpass into account.
func pgConfig(t *testing.T, addr, database, password string) *pgx.ConnConfig {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PG") {
			t.Setenv(k, "") // pgx ignores empty variables
		}
	}
	host, port, _ := strings.Cut(addr, ":")
	dsn := "host=" + host + " port=" + port + " user=postgres dbname=" + database +
		" sslmode=disable connect_timeout=5 application_name=ajar-lab-test target_session_attrs=any" +
		" passfile=" + filepath.Join(t.TempDir(), "none")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %q: %v", dsn, err)
	}
	cfg.Password = password
	cfg.Fallbacks = nil
	cfg.TLSConfig = nil
	return cfg
}

func TestPostgres(t *testing.T) {
	want := fake.New(lab.Seed).Person(lab.SQLPersons)
	tests := []struct {
		name, addr, password string
	}{
		{"open", lab.PGOpen, ""},
		{"secured", lab.PGSecured, lab.PGPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab.Require(t, tt.addr)
			ctx := testContext(t)
			if tt.password != "" {
				for _, password := range []string{"", "wrong-" + tt.password} {
					c, err := pgx.ConnectConfig(ctx, pgConfig(t, tt.addr, "police", password))
					if err == nil {
						c.Close(ctx)
						t.Errorf("logged in as postgres with password %q", password)
						continue
					}
					var pe *pgconn.PgError
					if !errors.As(err, &pe) || pe.Code != "28P01" {
						t.Errorf("password %q: %v, want SQLSTATE 28P01", password, err)
					}
				}
			}
			conns := make(map[string]*pgx.Conn)
			for _, database := range []string{"police", "shop"} {
				c, err := pgx.ConnectConfig(ctx, pgConfig(t, tt.addr, database, tt.password))
				if err != nil {
					t.Fatalf("connect to %s as postgres with password %q: %v", database, tt.password, err)
				}
				defer c.Close(ctx)
				conns[database] = c
			}
			counts, err := sqlCounts(ctx, func(ctx context.Context, table string) (n int64, err error) {
				database, name, _ := strings.Cut(table, ".")
				err = conns[database].QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n)
				return n, err
			})
			if err != nil {
				t.Fatalf("count rows: %v", err)
			}
			checkCounts(t, counts)

			// Probes estimate from reltuples; the lab analyses after seeding.
			var reltuples float64
			if err := conns["police"].QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = 'public.person_info'::regclass").Scan(&reltuples); err != nil {
				t.Fatalf("read reltuples: %v", err)
			}
			if reltuples != lab.SQLPersons {
				t.Errorf("person_info reltuples = %v, want %d", reltuples, lab.SQLPersons)
			}
			var phone, address string
			if err := conns["police"].QueryRow(ctx, "SELECT phone, address FROM person_info WHERE id = $1", lab.SQLPersons).Scan(&phone, &address); err != nil {
				t.Fatalf("read person %d: %v", lab.SQLPersons, err)
			}
			if phone != want.Mobile || address != want.Address {
				t.Errorf("person %d = %s %s, want %s %s", lab.SQLPersons, phone, address, want.Mobile, want.Address)
			}
		})
	}
}
