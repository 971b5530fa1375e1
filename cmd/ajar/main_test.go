package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/docs"
	"github.com/ajar-scan/ajar/lab"
)

// ajarRun runs the CLI in-process and returns exit code, stdout and stderr.
func ajarRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBadInput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no targets", []string{"scan", "--db", db}, 2, "no targets"},
		{"bad address", []string{"scan", "127.0.10.300", "--db", db}, 2, "127.0.10.300"},
		{"bad port", []string{"scan", "127.0.10.1", "-p", "70000", "--db", db}, 2, "70000"},
		{"reversed ports", []string{"scan", "127.0.10.1", "-p", "90-80", "--db", db}, 2, "90-80"},
		{"unknown named ports", []string{"scan", "127.0.10.1", "-p", "web", "--db", db}, 2, "web"},
		{"everything", []string{"scan", "0.0.0.0/0", "--db", db}, 2, "allow-large"},
		{"larger than /8", []string{"scan", "127.0.0.0/7", "--db", db}, 2, "allow-large"},
		{"rate zero", []string{"scan", "127.0.10.1", "--rate", "0", "--db", db}, 2, "rate"},
		{"negative timeout", []string{"scan", "127.0.10.1", "--timeout", "-1s", "--db", db}, 2, "timeout"},
		{"bad shard", []string{"scan", "127.0.10.1", "--shard", "3/2", "--db", db}, 2, "shard"},
		{"unknown flag", []string{"scan", "127.0.10.1", "--frobnicate"}, 2, "frobnicate"},
		{"unknown command", []string{"frobnicate"}, 2, "frobnicate"},
		{"missing list file", []string{"scan", "-i", "/nonexistent/list.txt", "--db", db}, 2, "/nonexistent/list.txt"},
		{"bad status", []string{"list", "--status", "leaky", "--db", db}, 2, "leaky"},
		{"bad show arg", []string{"show", "nowhere", "--db", db}, 2, "nowhere"},
		{"db and store", []string{"list", "--db", db, "--store", "sqlite:" + db}, 2, "--db or --store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := ajarRun(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.msg)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("error is %d lines, want one: %q", n+1, errOut)
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace on stderr: %q", errOut)
			}
			if out != "" && tc.code == 2 {
				t.Errorf("stdout on a usage error: %q", out)
			}
		})
	}
}

func TestBadExcludeFileNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	ex := filepath.Join(dir, "ex.txt")
	if err := os.WriteFile(ex, []byte("# ours\n127.0.10.0/24\n\n127.0.10.999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := ajarRun(t, "", "scan", "127.0.20.1", "--exclude-file", ex, "--db", filepath.Join(dir, "a.db"))
	if code != 2 || !strings.Contains(errOut, ex+":4") {
		t.Errorf("exit %d, stderr %q; want 2 naming %s:4", code, errOut, ex)
	}
}

func TestEverythingExcludedSendsNothing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	// 10.0.0.0/8 is reserved: excluded by default, so nothing is sent and
	// the store is never even opened.
	code, out, errOut := ajarRun(t, "", "scan", "10.1.2.3", "192.168.1.0/24", "--db", db)
	if code != 0 || !strings.Contains(errOut, "nothing to scan") {
		t.Errorf("exit %d stderr %q; want 0 and a message", code, errOut)
	}
	if out != "" {
		t.Errorf("stdout %q", out)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("store created for a scan that sent nothing")
	}
	// Loopback excluded by the user.
	code, _, errOut = ajarRun(t, "", "scan", "127.0.20.5", "--exclude", "127.0.20.0/24", "--db", db)
	if code != 0 || !strings.Contains(errOut, "nothing to scan") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestUnwritableStoreFailsBeforeScanning(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "sub", "ajar.db") // under a regular file
	code, out, errOut := ajarRun(t, "", "scan", "127.0.20.5", "-p", "1", "--db", bad)
	if code != 3 || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "--db") {
		t.Errorf("exit %d stderr %q; want 3 naming the path and --db", code, errOut)
	}
	if strings.Contains(errOut, "targets") || out != "" {
		t.Errorf("scanning seems to have started: %q %q", out, errOut)
	}
}

// TestScanLab scans the whole lab: every open service exposed with its
// records, every secured one protected, nothing else.
func TestScanLab(t *testing.T) {
	lab.Require(t)
	db := filepath.Join(t.TempDir(), "lab.db")
	code, out, errOut := ajarRun(t, "", "scan", "127.0.10.10-127.0.10.31", "--db", db, "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := map[string]*ajar.Event{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev ajar.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if err := docs.Validate(sc.Bytes()); err != nil {
			t.Errorf("line does not match docs/ajar-1.schema.json: %v\n%s", err, sc.Text())
		}
		got[ev.Target.String()] = &ev
	}
	want := map[string]struct {
		status  ajar.Status
		records int64
	}{
		lab.RedisOpen:    {ajar.StatusExposed, lab.RedisPersons + lab.RedisOrders},
		lab.RedisSecured: {ajar.StatusProtected, 0},
		lab.MySQLOpen:    {ajar.StatusExposed, lab.SQLPersons + lab.SQLCases + lab.SQLOrders},
		lab.MySQLSecured: {ajar.StatusProtected, 0},
		lab.PGOpen:       {ajar.StatusExposed, lab.SQLPersons + lab.SQLCases + lab.SQLOrders},
		lab.PGSecured:    {ajar.StatusProtected, 0},
	}
	for addr, w := range want {
		ev := got[addr]
		if ev == nil {
			t.Errorf("%s: not reported", addr)
			continue
		}
		if ev.Status != w.status {
			t.Errorf("%s: status %s, want %s (%s)", addr, ev.Status, w.status, ev.Detail)
		}
		if w.status == ajar.StatusExposed && (ev.Exposure == nil || ev.Exposure.Records != w.records) {
			t.Errorf("%s: exposure %+v, want %d records", addr, ev.Exposure, w.records)
		}
		if w.status == ajar.StatusProtected && ev.Exposure != nil {
			t.Errorf("%s: protected but has an exposure", addr)
		}
	}
	for addr := range got {
		if _, ok := want[addr]; !ok {
			t.Errorf("unexpected service reported at %s", addr)
		}
	}

	// The human views of the same store.
	code, out, _ = ajarRun(t, "", "list", "--db", db, "--status", "exposed")
	if code != 0 || strings.Count(out, "exposed") != 3 {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	code, out, _ = ajarRun(t, "", "show", lab.MySQLOpen, "--db", db)
	if code != 0 || !strings.Contains(out, "police.person_info") || !strings.Contains(out, "id_number") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	code, _, _ = ajarRun(t, "", "show", "127.0.10.99:1", "--db", db)
	if code != 1 {
		t.Errorf("show of an unknown port: exit %d, want 1", code)
	}
}
