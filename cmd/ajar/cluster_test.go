package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/cluster"
	"github.com/ajar-scan/ajar/cluster/natstest"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/store/postgres/pgtest"
)

func TestClusterBadInput(t *testing.T) {
	pg := "postgres://postgres@127.0.0.1:5432/ajar?sslmode=disable"
	nats := "nats://127.0.10.203:4222"
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"worker without NATS", []string{"worker", "--store", pg}, "--nats"},
		{"worker with a bad NATS URL", []string{"worker", "--nats", "http://x", "--store", pg}, "nats://"},
		{"worker without a shared store", []string{"worker", "--nats", nats, "--db", "/tmp/x.db"}, "postgres://"},
		{"worker with a bad concurrency", []string{"worker", "--nats", nats, "--store", pg, "--concurrency", "0"}, "concurrency"},
		{"worker with arguments", []string{"worker", "extra", "--nats", nats, "--store", pg}, "extra"},
		{"cluster scan without a shared store", []string{"scan", "127.0.10.10", "--cluster", nats, "--store", "sqlite:/tmp/x.db"}, "postgres://"},
		{"cluster scan with --shard", []string{"scan", "127.0.10.10", "--cluster", nats, "--store", pg, "--shard", "1/2"}, "--shards"},
		{"cluster scan with --resume", []string{"scan", "127.0.10.10", "--cluster", nats, "--store", pg, "--resume", "/tmp/s.json"}, "scans resume"},
		{"cluster scan with too many shards", []string{"scan", "127.0.10.10", "--cluster", nats, "--store", pg, "--shards", "99999999"}, "--shards"},
		{"cluster scan with a short ack wait", []string{"scan", "127.0.10.10", "--cluster", nats, "--store", pg, "--ack-wait", "10ms"}, "--ack-wait"},
		{"scans without NATS", []string{"scans"}, "--cluster"},
		{"cancel without an id", []string{"scans", "cancel", "--cluster", nats}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := ajarRun(t, "", tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.msg)
			}
		})
	}
}

func TestClusterUnreachable(t *testing.T) {
	// Nothing listens on port 1 of a lab address: a runtime failure, exit 3.
	code, _, errOut := ajarRun(t, "", "scans", "--cluster", "nats://127.0.10.203:1")
	if code != exitRuntime || !strings.Contains(errOut, "connect to NATS") {
		t.Errorf("scans with NATS down: exit %d, stderr %q; want %d and what failed", code, errOut, exitRuntime)
	}
	code, _, errOut = ajarRun(t, "", "worker", "--nats", "nats://127.0.10.203:1", "--store", pgtest.DSN("127.0.10.203", 1, "postgres", "ajar"))
	if code != exitRuntime || !strings.Contains(errOut, "open store") {
		t.Errorf("worker with PostgreSQL down: exit %d, stderr %q; want %d and what failed", code, errOut, exitRuntime)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan", "127.0.10.0/24"}, "ajar scan 127.0.10.0/24"},
		{[]string{"--store", "postgres://ajar:s3cret@db:5432/ajar"}, "ajar --store postgres://ajar:xxxxx@db:5432/ajar"},
		{[]string{"--store=postgres://ajar:s3cret@db/ajar"}, "ajar --store=postgres://ajar:xxxxx@db/ajar"},
		{[]string{"--store", "postgres://ajar@db/ajar"}, "ajar --store postgres://ajar@db/ajar"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("commandLine(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// lockedWriter lets a worker's log and the test share a buffer.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestClusterScanLab runs a coordinator and two workers through the CLI, as
// the README shows: the scan finishes, `ajar scans` lists it, `ajar list`
// reads its exposures from the shared store, and the workers stop on their
// context's end (SIGTERM in the binary).
func TestClusterScanLab(t *testing.T) {
	lab.Require(t)
	ns := natstest.Start(t, "127.0.10.203")
	store := pgtest.NewDatabase(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var (
		wg   sync.WaitGroup
		logs [2]lockedWriter
	)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"worker", "--nats", ns.URL(), "--store", store, "--name", "w" + string(rune('1'+i)), "--drain", "0s"}
			if code := run(ctx, args, strings.NewReader(""), &logs[i], &logs[i]); code != exitOK {
				t.Errorf("worker %d exited %d:\n%s", i+1, code, logs[i].String())
			}
		}()
	}

	code, _, errOut := ajarRun(t, "", "scan", "127.0.10.10-127.0.10.31", "-p", "3306,5432,6379",
		"--cluster", ns.URL(), "--store", store, "--shards", "3")
	if code != exitOK {
		t.Fatalf("cluster scan: exit %d\n%s", code, errOut)
	}
	// The lab may hold more than the six services of lab.Services; the
	// store's contents are checked below.
	if !strings.Contains(errOut, "finished: 66 targets in 3 shards") {
		t.Errorf("cluster scan summary: %q", errOut)
	}

	code, out, errOut := ajarRun(t, "", "scans", "--cluster", ns.URL(), "--json")
	if code != exitOK {
		t.Fatalf("scans: exit %d: %s", code, errOut)
	}
	var sc cluster.Scan
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &sc); err != nil {
		t.Fatalf("scans --json: %v: %q", err, out)
	}
	if sc.State != cluster.StateFinished || sc.Progress.Shards != 3 || sc.Progress.Targets != 66 {
		t.Errorf("scans: %s with %d shards and %d targets done, want finished, 3 and 66", sc.State, sc.Progress.Shards, sc.Progress.Targets)
	}
	code, _, errOut = ajarRun(t, "", "scans", "cancel", sc.ID, "--cluster", ns.URL())
	if code != exitRuntime || !strings.Contains(errOut, "finished") {
		t.Errorf("cancel a finished scan: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = ajarRun(t, "", "scans", "cancel", "no-such-scan", "--cluster", ns.URL())
	if code != exitUsage {
		t.Errorf("cancel an unknown scan: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = ajarRun(t, "", "list", "--store", store, "--status", "exposed")
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	for _, a := range []string{lab.RedisOpen, lab.MySQLOpen, lab.PGOpen} {
		if !strings.Contains(out, a) {
			t.Errorf("list of the shared store lacks %s:\n%s", a, out)
		}
	}

	stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("workers did not stop within 30s of their context's end")
	}
	for i := range logs {
		if !strings.Contains(logs[i].String(), "worker stopped") {
			t.Errorf("worker %d did not log its stop:\n%s", i+1, logs[i].String())
		}
	}
}
