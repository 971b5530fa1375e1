package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar"
	_ "github.com/ajar-scan/ajar/probe/all"
	"github.com/ajar-scan/ajar/store/postgres"
)

// The test binary doubles as a worker: run with workerEnv set, it runs one
// Worker configured from the environment instead of the tests, so that a
// test can kill a worker with SIGKILL.
const workerEnv = "AJAR_CLUSTER_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// workerLine is what a worker process prints on stdout for each stored
// observation.
type workerLine struct {
	Scan   string `json:"scan"`
	Shard  int    `json:"shard"`
	Key    string `json:"key"`
	Status string `json:"status"`
}

func workerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	nc, err := nats.Connect(os.Getenv("AJAR_TEST_NATS"), nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		log.Error("connect to NATS", "err", err)
		return 3
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Error("JetStream", "err", err)
		return 3
	}
	st, err := postgres.Open(ctx, os.Getenv("AJAR_TEST_STORE"))
	if err != nil {
		log.Error("open store", "err", err)
		return 3
	}
	defer st.Close()
	rate, _ := strconv.ParseFloat(os.Getenv("AJAR_TEST_RATE"), 64)
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	w := &Worker{
		JS: js, Store: st, Name: os.Getenv("AJAR_TEST_NAME"), Rate: rate,
		Transient: postgres.IsTransient, Patience: 2 * time.Minute, Logger: log,
		OnEvent: func(scan string, shard int, ev *ajar.Event) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(workerLine{Scan: scan, Shard: shard, Key: ev.Key().String(), Status: string(ev.Status)})
		},
	}
	if err := w.Run(ctx); err != nil {
		log.Error("worker", "err", err)
		return 3
	}
	return 0
}

// workerProc is a worker running as a child process.
type workerProc struct {
	name   string
	cmd    *exec.Cmd
	lines  chan workerLine
	stderr *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWorker starts a worker process; it is killed when the test ends.
func startWorker(t *testing.T, name, natsURL, dsn string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", "AJAR_TEST_NATS="+natsURL, "AJAR_TEST_STORE="+dsn, "AJAR_TEST_NAME="+name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProc{name: name, cmd: cmd, lines: make(chan workerLine, 1024), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l workerLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				w.lines <- l
			}
		}
		close(w.lines)
		_ = cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.exited
		if t.Failed() {
			t.Logf("worker %s log:\n%s", name, w.stderr.String())
		}
	})
	return w
}

// stop asks the worker to stop (SIGTERM) and waits for it.
func (w *workerProc) stop(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("worker %s did not stop within 30s of SIGTERM", w.name)
	}
}

// logCount sums the field of the worker's log lines with message msg.
func (w *workerProc) logCount(msg, field string) int {
	n := 0
	for _, line := range strings.Split(w.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		if field == "" {
			n++
		} else if v, ok := m[field].(float64); ok {
			n += int(v)
		}
	}
	return n
}

// freePort returns a port nothing listens on at host.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsHost is the lab address the tests' NATS servers listen on.
const natsHost = "127.0.10.201"

// pgServer is a PostgreSQL cluster a test runs as the postgres system user,
// to stop and start again.
type pgServer struct {
	host string
	port int
	dir  string
	bin  string
}

// pgHost is the lab address the tests' own PostgreSQL listens on.
const pgHost = "127.0.10.202"

func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL server under /usr/lib/postgresql (Debian package postgresql)")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres system user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "ajar-cluster-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	s := &pgServer{host: pgHost, port: freePort(t, pgHost), dir: dir, bin: filepath.Dir(bins[len(bins)-1])}
	if out, err := s.asPostgres("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.start(t)
	t.Cleanup(func() { _ = s.asPostgres("pg_ctl", "stop", "-D", s.data(), "-m", "immediate").Run() })
	return s
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) asPostgres(tool string, args ...string) *exec.Cmd {
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(s.bin, tool)}, args...)...)
}

func (s *pgServer) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=%s -p %d -k %s -c fsync=off", s.host, s.port, s.dir)
	cmd := s.asPostgres("pg_ctl", "start", "-w", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-o", opts)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		t.Fatalf("start PostgreSQL: %v\n%s\n%s", err, out, log)
	}
}

// crash stops the server at once, as a crash would: connections break
// mid-transaction.
func (s *pgServer) crash(t *testing.T) {
	t.Helper()
	if out, err := s.asPostgres("pg_ctl", "stop", "-D", s.data(), "-m", "immediate").CombinedOutput(); err != nil {
		t.Fatalf("stop PostgreSQL: %v\n%s", err, out)
	}
}

// connectNATS connects the test itself to NATS, reconnecting forever.
func connectNATS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// openStore opens the store at dsn for the test.
func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
