package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 10, ""},
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven long", 10, "eleven …"},
		{"line\nbreak\ttab\x1b[31m", 64, "line break tab [31m"},
		{"bad \xff byte", 64, "bad \uFFFD byte"},
		{"数据库数据库", 10, "数据…"},
		{"abc", 0, ""},
		{"abcdef", 2, "ab"}, // no room for the ellipsis
	} {
		if got := clip(c.in, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"15.20 (Debian 15.20-0+deb12u1)", 150020, true},
		{"16.4", 160004, true},
		{"17beta1", 170000, true},
		{"10.23", 100023, true},
		{"9.6.24", 90624, true},
		{"9.6", 90600, true},
		{"8.0.2 on i686-pc-linux-gnu", 80002, true},
		{"13.0.0", 130000, true},
		{"", 0, false},
		{"v15", 0, false},
		{"0.1", 0, false},
		{"99999999999999999999", 99990000, true}, // digits beyond four are not read
	} {
		got, ok := parseVersion(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseVersion(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestAuthRequested(t *testing.T) {
	for _, c := range []struct {
		in, method string
		ok         bool
	}{
		{`failed to connect to ...: require_auth check failed: authentication method requirement "none" failed: server requested scram-sha-256 authentication`, "scram-sha-256", true},
		{"server requested md5 authentication", "md5", true},
		{"server requested  authentication", "", false},
		{"server requested two words authentication", "", false},
		{"server requested md5", "", false},
		{"password authentication failed", "", false},
	} {
		m, ok := authRequested(c.in)
		if m != c.method || ok != c.ok {
			t.Errorf("authRequested(%q) = %q, %v; want %q, %v", c.in, m, ok, c.method, c.ok)
		}
	}
}

func TestClassify(t *testing.T) {
	pgErr := func(code, msg string) error {
		return fmt.Errorf("connect: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg})
	}
	for _, c := range []struct {
		name     string
		err      error
		status   ajar.Status
		postgres bool
		detail   string
	}{
		{"invalid password", pgErr("28P01", "password authentication failed for user \"postgres\""), ajar.StatusProtected, true, "password authentication failed for user \"postgres\""},
		{"pg_hba", pgErr("28000", "no pg_hba.conf entry"), ajar.StatusProtected, true, "no pg_hba.conf entry"},
		{"starting up", pgErr("57P03", "the database system is starting up"), ajar.StatusOpen, true, "the database system is starting up"},
		{"long message", pgErr("28000", strings.Repeat("x", 1000)), ajar.StatusProtected, true, strings.Repeat("x", maxDetail-3) + "…"},
		{"auth requested", errors.New(`require_auth check failed: authentication method requirement "none" failed: server requested scram-sha-256 authentication`), ajar.StatusProtected, true, "password required (scram-sha-256 authentication)"},
		{"not postgres", errors.New("failed to receive message: unexpected EOF"), ajar.StatusOpen, false, ""},
	} {
		got := classify(c.err)
		if got.Status != c.status || got.Postgres != c.postgres || got.Detail != c.detail {
			t.Errorf("%s: classify = %+v, want %s postgres=%v %q", c.name, got, c.status, c.postgres, c.detail)
		}
	}
}

func TestCountExactly(t *testing.T) {
	for _, c := range []struct {
		reltuples float64
		countCap  int64
		want      bool
	}{
		{-1, 1000, true}, // never analysed
		{0, 1000, true},
		{999, 1000, true},
		{1000, 1000, false},
		{3000, 1000, false},
		{math.NaN(), 1000, true},
		{math.Inf(1), 1000, false},
	} {
		if got := countExactly(c.reltuples, c.countCap); got != c.want {
			t.Errorf("countExactly(%v, %d) = %v, want %v", c.reltuples, c.countCap, got, c.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	for _, c := range []struct {
		reltuples float64
		want      int64
	}{
		{-1, 0},
		{0, 0},
		{2999.6, 3000},
		{math.NaN(), 0},
		{math.Inf(1), math.MaxInt64},
		{1e30, math.MaxInt64},
	} {
		if got := estimate(c.reltuples); got != c.want {
			t.Errorf("estimate(%v) = %d, want %d", c.reltuples, got, c.want)
		}
	}
}

func TestTablesQuery(t *testing.T) {
	for _, c := range []struct {
		version              int
		partitions, leafSums bool
	}{
		{0, false, false},
		{90624, false, false},
		{110000, true, false},
		{150020, true, true},
	} {
		q := tablesQuery(c.version)
		if got := strings.Contains(q, "relispartition"); got != c.partitions {
			t.Errorf("version %d: partitions left out = %v, want %v", c.version, got, c.partitions)
		}
		if got := strings.Contains(q, "pg_partition_tree"); got != c.leafSums {
			t.Errorf("version %d: sums over leaves = %v, want %v", c.version, got, c.leafSums)
		}
		for _, want := range []string{"'pg_catalog', 'information_schema'", "'^pg_(toast|temp_)'", "a.attnum > 0", "NOT a.attisdropped"} {
			if !strings.Contains(q, want) {
				t.Errorf("version %d: query lacks %s", c.version, want)
			}
		}
	}
}

func TestWithDefaults(t *testing.T) {
	def := probe.DefaultOptions()
	for _, c := range []struct {
		in, want probe.Options
	}{
		{probe.Options{}, probe.Options{CountCap: def.CountCap, MaxDatasets: def.MaxDatasets}},
		{probe.Options{CountCap: 7, MaxDatasets: 3, Samples: 2}, probe.Options{CountCap: 7, MaxDatasets: 3, Samples: 2}},
		{probe.Options{CountCap: -1, MaxDatasets: -1}, probe.Options{CountCap: def.CountCap, MaxDatasets: def.MaxDatasets}},
	} {
		if got := withDefaults(c.in); got != c.want {
			t.Errorf("withDefaults(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestStatementTimeout(t *testing.T) {
	for _, c := range []struct {
		configured, left time.Duration // left 0: no deadline
		want, slack      time.Duration
	}{
		{0, 0, DefaultStatementTimeout, 0},
		{time.Second, 0, time.Second, 0},
		{0, 4 * time.Second, time.Second, 50 * time.Millisecond},
		{0, time.Millisecond, 10 * time.Millisecond, 0},
	} {
		ctx := context.Background()
		if c.left > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.left)
			defer cancel()
		}
		got := (&Prober{StatementTimeout: c.configured}).statementTimeout(ctx)
		if got > c.want || got < c.want-c.slack {
			t.Errorf("configured %v, %v left: %v, want %v", c.configured, c.left, got, c.want)
		}
	}
}

func TestConnConfigDialsTheTargetOnly(t *testing.T) {
	hostileEnvironment(t)
	tg, _ := ajar.ParseAddrPort("127.0.20.9:5433")
	cc, err := connConfig(tg.AddrPort(), (&probe.TargetDialer{Target: tg}).DialAddr, "shop", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "127.0.20.9" || cc.Port != 5433 || cc.Database != "shop" || cc.User != "postgres" || cc.Password != "" {
		t.Errorf("host %q port %d database %q user %q password %q", cc.Host, cc.Port, cc.Database, cc.User, cc.Password)
	}
	if cc.TLSConfig != nil || len(cc.Fallbacks) != 0 || cc.RequireAuth != "none" || cc.ValidateConnect != nil {
		t.Errorf("TLS %v, fallbacks %v, require_auth %q, ValidateConnect set %v", cc.TLSConfig, cc.Fallbacks, cc.RequireAuth, cc.ValidateConnect != nil)
	}
	if len(cc.RuntimeParams) != 1 || cc.RuntimeParams["application_name"] != "ajar" {
		t.Errorf("runtime parameters %v", cc.RuntimeParams)
	}
	ctx := context.Background()
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"127.0.20.9", true},
		{"127.0.0.1", false},
		{"localhost", false},
		{"db.example.com", false},
	} {
		addrs, err := cc.LookupFunc(ctx, c.host)
		if c.ok && (err != nil || len(addrs) != 1 || addrs[0] != c.host) {
			t.Errorf("look up %s: %v, %v", c.host, addrs, err)
		}
		if !c.ok && !errors.Is(err, probe.ErrNotTarget) {
			t.Errorf("look up %s: %v, %v; want refused", c.host, addrs, err)
		}
	}
	if _, err := cc.DialFunc(ctx, "tcp", "127.0.0.1:5432"); !errors.Is(err, probe.ErrNotTarget) {
		t.Errorf("dial elsewhere: %v, want refused", err)
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseVersion(s)
		if ok != (n > 0) || n < 0 || n > 9999*10000+9999 {
			t.Fatalf("parseVersion(%q) = %d, %v", s, n, ok)
		}
	})
}

func FuzzClip(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 1024
		got := clip(s, n)
		if len(got) > max(n, 0) || !utf8.ValidString(got) {
			t.Fatalf("clip(%q, %d) = %q", s, n, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("clip(%q, %d) = %q keeps a control character", s, n, got)
			}
		}
		if utf8.ValidString(s) && len(s) <= n && !strings.ContainsFunc(s, unicode.IsControl) && got != s {
			t.Fatalf("clip(%q, %d) = %q changed a clean string", s, n, got)
		}
	})
}

func FuzzAuthRequested(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := authRequested(s)
		if ok != (m != "") || strings.ContainsAny(m, " \t\n") {
			t.Fatalf("authRequested(%q) = %q, %v", s, m, ok)
		}
		if ok && !strings.Contains(s, "server requested "+m+" authentication") {
			t.Fatalf("authRequested(%q) = %q, not in the message", s, m)
		}
	})
}

func TestSampleQuery(t *testing.T) {
	got := sampleQuery("pub\"lic", "t", []string{"id", "na\"me"}, 5)
	want := `SELECT left(("id")::text, 1024), left(("na""me")::text, 1024) FROM "pub""lic"."t" LIMIT 5`
	if got != want {
		t.Errorf("sampleQuery = %s\nwant %s", got, want)
	}
}
