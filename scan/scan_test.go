package scan

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/probe"
	_ "github.com/ajar-scan/ajar/probe/all"
	"github.com/ajar-scan/ajar/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// redisServer runs a real redis-server owned by the test on addr.
type redisServer struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, addr string, password string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (lab/up installs it): %v", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no", "--loglevel", "warning"}
	if password != "" {
		args = append(args, "--requirepass", password)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{t: t, addr: addr, cmd: cmd}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// do sends commands to the test's own server (seeding it; never a target).
func (s *redisServer) do(password string, cmds ...string) {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if password != "" {
		cmds = append([]string{"AUTH " + password}, cmds...)
	}
	for _, cmd := range cmds {
		fmt.Fprintf(c, "%s\r\n", cmd)
		line, err := r.ReadString('\n')
		if err != nil || strings.HasPrefix(line, "-") {
			s.t.Fatalf("%s: %q %v", cmd, line, err)
		}
	}
}

func (s *redisServer) stop() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// stepClock is a clock the test moves.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func one(t ajar.Target) iter.Seq2[uint64, ajar.Target] {
	return func(yield func(uint64, ajar.Target) bool) { yield(0, t) }
}

func config(st ajar.Store, target ajar.Target, clk *stepClock, emit func(*ajar.Event)) Config {
	return Config{
		ID: "test-" + clk.Now().Format("150405"), Targets: one(target), Total: 1,
		Covers:   func(x ajar.Target) bool { return x.Addr == target.Addr && x.Port == target.Port },
		Discover: discover.Options{Concurrency: 4, PerHost: 4, Timeout: time.Second},
		Identify: identify.DefaultOptions(), Probe: probe.DefaultOptions(),
		Workers: 2, TargetTimeout: 10 * time.Second,
		Store: st, Now: clk.Now, Emit: emit,
	}
}

func TestTimeline(t *testing.T) {
	ctx := context.Background()
	const addr = "127.0.20.112:6379"
	target := ajar.Target{Addr: netip.MustParseAddr("127.0.20.112"), Port: 6379}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &stepClock{}
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

	scanAt := func(at time.Time) []*ajar.Event {
		t.Helper()
		clk.set(at)
		var evs []*ajar.Event
		if _, err := Run(ctx, config(st, target, clk, func(e *ajar.Event) { evs = append(evs, e) })); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	status := func(evs []*ajar.Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.Plugin+":"+string(e.Status))
		}
		return strings.Join(s, ",")
	}

	srv := startRedis(t, addr, "")
	srv.do("", "HSET person:1 name x mobile y", "HSET person:2 name x mobile y", "SET order:1 z")

	evs := scanAt(t0)
	if got := status(evs); got != "redis:exposed" {
		t.Fatalf("first scan: %s, want redis:exposed", got)
	}
	if e := evs[0].Exposure; e == nil || e.Records != 3 || !evs[0].FirstSeen.Equal(t0) {
		t.Fatalf("first scan: exposure %+v first_seen %s", e, evs[0].FirstSeen)
	}

	t1 := t0.Add(6 * time.Hour)
	evs = scanAt(t1)
	if got := status(evs); got != "redis:exposed" || !evs[0].FirstSeen.Equal(t0) || !evs[0].LastSeen.Equal(t1) {
		t.Fatalf("second scan: %s first %s last %s", got, evs[0].FirstSeen, evs[0].LastSeen)
	}

	srv.stop()
	t2 := t0.Add(50 * time.Hour)
	evs = scanAt(t2)
	if got := status(evs); got != "redis:closed" {
		t.Fatalf("scan after stop: %s, want redis:closed", got)
	}
	if evs[0].OpenFor == nil || *evs[0].OpenFor != int64((50*time.Hour).Seconds()) || evs[0].ClosedAt == nil || !evs[0].ClosedAt.Equal(t2) {
		t.Fatalf("closed event: open_for %v closed_at %v", evs[0].OpenFor, evs[0].ClosedAt)
	}
	rec, err := st.Get(ctx, ajar.Key{Addr: target.Addr, Port: target.Port, Plugin: "redis"})
	if err != nil || rec.Status() != ajar.StatusClosed || !rec.Last.LastSeen.Equal(t1) {
		t.Fatalf("stored record after close: %+v %v", rec, err)
	}

	// A scan of a space that does not cover the port closes nothing.
	clk.set(t2.Add(time.Hour))
	cfg := config(st, target, clk, nil)
	other := ajar.Target{Addr: netip.MustParseAddr("127.0.20.113"), Port: 6379}
	cfg.Targets, cfg.Covers = one(other), func(x ajar.Target) bool { return x == other }
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	// It comes back: a new open period.
	srv = startRedis(t, addr, "")
	srv.do("", "SET a 1")
	t3 := t0.Add(100 * time.Hour)
	evs = scanAt(t3)
	if got := status(evs); got != "redis:exposed" || !evs[0].FirstSeen.Equal(t3) || evs[0].ClosedAt != nil {
		t.Fatalf("reopened: %s first %s closed %v", got, evs[0].FirstSeen, evs[0].ClosedAt)
	}

	// The owner sets a password: closed, with the reason.
	srv.stop()
	startRedis(t, addr, "s3cret")
	t4 := t3.Add(2 * time.Hour)
	evs = scanAt(t4)
	if got := status(evs); got != "redis:closed" || !strings.Contains(evs[0].Detail, "requires authentication") {
		t.Fatalf("after password: %s (%s), want redis:closed", got, evs[0].Detail)
	}
	if *evs[0].OpenFor != int64((2 * time.Hour).Seconds()) {
		t.Errorf("open_for = %d, want 7200", *evs[0].OpenFor)
	}
	evs = scanAt(t4.Add(time.Hour))
	if got := status(evs); got != "redis:protected" {
		t.Fatalf("next scan: %s, want redis:protected", got)
	}

	all, err := st.Events(ctx, ajar.Key{Addr: target.Addr, Port: target.Port, Plugin: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, e := range all {
		seq = append(seq, string(e.Status))
	}
	if got, want := strings.Join(seq, ","), "exposed,exposed,closed,exposed,closed,protected"; got != want {
		t.Errorf("event log %s, want %s", got, want)
	}
}

// fakeRedis answers the identification PING like Redis, then misbehaves.
func fakeRedis(t *testing.T, addr string, after func(c net.Conn)) ajar.Target {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				if strings.Contains(string(buf[:n]), "PING") {
					_, _ = c.Write([]byte("+PONG\r\n"))
					return
				}
				after(c)
			}()
		}
	}()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	return ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
}

func TestHostileServersCostOneTimeout(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name  string
		after func(net.Conn)
	}{
		{"tarpit after hello", func(c net.Conn) { _, _ = c.Read(make([]byte, 1)); _, _ = c.Read(make([]byte, 1<<10)) }},
		{"endless bulk", func(c net.Conn) {
			_, _ = c.Write([]byte("$999999999\r\n"))
			junk := []byte(strings.Repeat("x", 32<<10))
			for {
				if _, err := c.Write(junk); err != nil {
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := fakeRedis(t, "127.0.20.70:0", tc.after)
			clk := &stepClock{now: time.Now()}
			cfg := config(st, target, clk, nil)
			cfg.TargetTimeout = time.Second
			cfg.ReadCap = 1 << 20
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			var evs []*ajar.Event
			cfg.Emit = func(e *ajar.Event) { evs = append(evs, e) }
			if _, err := Run(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > cfg.TargetTimeout+time.Second {
				t.Errorf("took %s, budget %s", d, cfg.TargetTimeout)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
				t.Errorf("heap grew by %d MB", grew>>20)
			}
			if len(evs) != 1 || evs[0].Status == ajar.StatusExposed {
				t.Fatalf("events %+v", evs)
			}
			if evs[0].Status != ajar.StatusOpen || evs[0].Detail == "" {
				t.Errorf("status %s detail %q; want open with the error", evs[0].Status, evs[0].Detail)
			}
		})
	}
}

func TestInterruptedScanClosesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A known exposure on a port this interrupted scan never reaches.
	target := ajar.Target{Addr: netip.MustParseAddr("127.0.20.71"), Port: 6379}
	prev := &ajar.Event{Schema: ajar.Schema, Time: time.Now().UTC(), Target: target, Plugin: "redis",
		Status: ajar.StatusExposed, Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessRead}}
	if err := st.Record(ctx, prev); err != nil {
		t.Fatal(err)
	}
	clk := &stepClock{now: time.Now()}
	cfg := config(st, target, clk, nil)
	cfg.Now = time.Now
	cfg.Covers = func(ajar.Target) bool { return true }
	cfg.Targets = func(yield func(uint64, ajar.Target) bool) {
		cancel()
		yield(0, target)
	}
	sum, err := Run(ctx, cfg)
	if err == nil || !sum.Interrupted {
		t.Fatalf("Run = %+v, %v; want interrupted", sum, err)
	}
	rec, err := st.Get(context.Background(), prev.Key())
	if err != nil || rec.Status() != ajar.StatusExposed {
		t.Fatalf("after an interrupted scan: %+v %v; want still exposed", rec, err)
	}
}
