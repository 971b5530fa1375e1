package query

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sqlite is the dialect the golden files are written in.
var sqlite = Dialect{
	Placeholder: func(int) string { return "?" },
	Column:      func(f string) string { return "e." + f },
	Terms: func(f, cond string) string {
		return fmt.Sprintf("EXISTS (SELECT 1 FROM terms t WHERE t.exposure = e.id AND t.kind = '%s' AND %s)", f, cond)
	},
	Lower:   func(x string) string { return "lower(" + x + ")" },
	Addr:    func(a netip.Addr) any { return a.String() },
	Time:    func(t time.Time) any { return t.Format(time.RFC3339) },
	Seconds: func(d time.Duration) any { return int64(d / time.Second) },
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var queries = []string{
	`protocol:elasticsearch class:cn_resident_id provider:alibaba status:exposed`,
	`protocol:redis OR protocol:mongodb`,
	`NOT status:closed`,
	`-status:closed records>100000`,
	`(protocol:mysql OR protocol:postgresql) AND severity:critical`,
	`records>1M bytes>=1GB`,
	`bytes>=500MiB`,
	`first_seen<2026-01-01 last_seen>=-7d`,
	`open_for>30d`,
	`ip:47.100.0.0/14`,
	`ip:127.0.10.1-127.0.10.9`,
	`ip:2001:db8::/32`,
	`ip:127.0.10.5 port:9200`,
	`name:*.aliyuncs.com`,
	`provider:ali*`,
	`person_info`,
	`"case record"`,
	`dataset:"person info"`,
	`asn:AS37963 country:CN`,
	`ransom:true`,
	`records:>100`,
	`field:sfzh OR field:身份证`,
	`version!=7.*`,
	`disclosure:notified`,
	``,
}

func TestGolden(t *testing.T) {
	var out strings.Builder
	for _, q := range queries {
		n, err := Parse(q)
		fmt.Fprintf(&out, "query: %s\n", q)
		if err != nil {
			fmt.Fprintf(&out, "parse error: %v\n\n", err)
			continue
		}
		if n != nil {
			fmt.Fprintf(&out, "tree:  %s\n", n)
		}
		c, err := Compile(n, sqlite, now)
		if err != nil {
			fmt.Fprintf(&out, "compile error: %v\n\n", err)
			continue
		}
		fmt.Fprintf(&out, "where: %s\nargs:  %v\n\n", c.Where, c.Args)
	}
	golden(t, "queries.golden", out.String())
}

func TestErrors(t *testing.T) {
	var out strings.Builder
	for _, q := range []string{
		`colour:red`,
		`records>lots`,
		`(protocol:redis`,
		`protocol:redis)`,
		`"unterminated`,
		`first_seen<yesterday`,
		`open_for>forever`,
		`ip:300.1.1.1`,
		`ip:10.0.0.0/40`,
		`records>5GB`,
		`class>phone`,
		`status<open`,
		`protocol:`,
		`AND`,
		`ransom:maybe`,
		strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100),
	} {
		n, err := Parse(q)
		if err == nil {
			_, err = Compile(n, sqlite, now)
		}
		if err == nil {
			t.Errorf("%q: no error", q)
			continue
		}
		if _, ok := err.(*Error); !ok {
			t.Errorf("%q: error %T is not a *query.Error", q, err)
		}
		fmt.Fprintf(&out, "%-24s %v\n", q[:min(len(q), 24)], err)
	}
	golden(t, "errors.golden", out.String())
}

// TestParameterised checks that user text only ever reaches SQL as a
// parameter.
func TestParameterised(t *testing.T) {
	evil := []string{`protocol:"x' OR 1=1 --"`, `name:"*'; DROP TABLE exposures; --"`, `"'); DELETE FROM events; --"`}
	for _, q := range evil {
		n, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compile(n, sqlite, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"DROP", "DELETE", "1=1", "--"} {
			if strings.Contains(c.Where, bad) {
				t.Errorf("%q: %q reached the SQL text: %s", q, bad, c.Where)
			}
		}
	}
}

func TestLastAddr(t *testing.T) {
	for _, tc := range []struct{ p, want string }{
		{"47.100.0.0/14", "47.103.255.255"},
		{"127.0.10.0/24", "127.0.10.255"},
		{"1.2.3.4/32", "1.2.3.4"},
		{"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"0.0.0.0/0", "255.255.255.255"},
	} {
		if got := lastAddr(netip.MustParsePrefix(tc.p)); got.String() != tc.want {
			t.Errorf("lastAddr(%s) = %s, want %s", tc.p, got, tc.want)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (run go test -update after checking):\n%s", path, got)
	}
}

func FuzzParse(f *testing.F) {
	for _, q := range queries {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		c, err := Compile(n, sqlite, now)
		if err != nil {
			return
		}
		if strings.Count(c.Where, "?") != len(c.Args) {
			t.Fatalf("%d placeholders, %d args", strings.Count(c.Where, "?"), len(c.Args))
		}
	})
}
