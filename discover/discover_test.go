package discover

import (
	"context"
	"iter"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ajar-scan/ajar"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen opens n listeners on addr and returns their ports; they close with the test.
func listen(t *testing.T, addr string, n int) []uint16 {
	t.Helper()
	var ports []uint16
	for range n {
		l, err := net.Listen("tcp", addr+":0")
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ports = append(ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

func seq(addr netip.Addr, ports []uint16) iter.Seq2[uint64, ajar.Target] {
	return func(yield func(uint64, ajar.Target) bool) {
		for i, p := range ports {
			if !yield(uint64(i), ajar.Target{Addr: addr, Port: p}) {
				return
			}
		}
	}
}

// freePorts returns ports on addr that nothing listens on (best effort:
// listened on, then closed).
func freePorts(t *testing.T, addr string, n int) []uint16 {
	t.Helper()
	var out []uint16
	for range n {
		l, err := net.Listen("tcp", addr+":0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint16(l.Addr().(*net.TCPAddr).Port))
		l.Close()
	}
	return out
}

func TestScanFindsExactlyTheOpenPorts(t *testing.T) {
	const host = "127.0.20.50"
	open := listen(t, host, 40)
	closed := freePorts(t, host, 300)
	all := append(slices.Clone(open), closed...)
	s, err := New(Options{Concurrency: 64, PerHost: 16, Timeout: time.Second, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []uint16
	var done atomic.Int64
	err = s.Run(context.Background(), seq(netip.MustParseAddr(host), all), func(f Found) {
		mu.Lock()
		got = append(got, f.Target.Port)
		mu.Unlock()
	}, func(uint64) { done.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(open))
	if !slices.Equal(got, want) {
		t.Errorf("open ports: got %v, want %v", got, want)
	}
	if n := done.Load(); n != int64(len(all)) {
		t.Errorf("done called %d times, want %d", n, len(all))
	}
	if s.Stats.Open.Load() != int64(len(open)) || s.Stats.Done.Load() != int64(len(all)) {
		t.Errorf("stats: open %d done %d", s.Stats.Open.Load(), s.Stats.Done.Load())
	}
}

func TestRateLimitHolds(t *testing.T) {
	// A lower bound proves the limiter is in the path: 200 attempts at
	// 1000/s cannot finish in less than ~0.19 s.
	const host = "127.0.20.51"
	ports := freePorts(t, host, 200)
	s, err := New(Options{Rate: 1000, Concurrency: 64, PerHost: 64, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Run(context.Background(), seq(netip.MustParseAddr(host), ports), func(Found) {}, nil); err != nil {
		t.Fatal(err)
	}
	min := time.Duration(float64(200-s.limiter.burst/s.limiter.interval-1) / 1000 * float64(time.Second))
	if d := time.Since(start); d < min {
		t.Errorf("200 attempts at 1000/s took %s, less than %s", d, min)
	}
	if a := s.Stats.Attempts.Load(); a != 200 {
		t.Errorf("attempts = %d, want 200 (closed ports are not retried)", a)
	}
}

func TestLocalExhaustionIsRetriedNotClosed(t *testing.T) {
	const host = "127.0.20.52"
	open := listen(t, host, 3)
	var calls atomic.Int64
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if calls.Add(1) <= 5 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.EMFILE}
		}
		return d.DialContext(ctx, network, addr)
	}
	s, err := New(Options{Concurrency: 1, PerHost: 1, Timeout: time.Second, Retries: 0, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	var found atomic.Int64
	if err := s.Run(context.Background(), seq(netip.MustParseAddr(host), open), func(Found) { found.Add(1) }, nil); err != nil {
		t.Fatal(err)
	}
	if found.Load() != 3 {
		t.Errorf("found %d open ports after EMFILE back-offs, want 3", found.Load())
	}
	if s.Stats.Backoffs.Load() != 5 {
		t.Errorf("backoffs = %d, want 5", s.Stats.Backoffs.Load())
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	// A listener whose backlog is never accepted still completes handshakes;
	// use a port range with a slow dialer to see the scan stop on cancel.
	ctx, cancel := context.WithCancel(context.Background())
	slow := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s, err := New(Options{Concurrency: 8, PerHost: 8, Timeout: time.Minute, Dial: slow})
	if err != nil {
		t.Fatal(err)
	}
	ports := make([]uint16, 10000)
	for i := range ports {
		ports[i] = uint16(i + 1)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = s.Run(ctx, seq(netip.MustParseAddr("127.0.20.53"), ports), func(Found) {}, nil)
	if err == nil {
		t.Fatal("Run after cancel returned nil")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %s to stop after cancel", d)
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{
		{Rate: -1, Concurrency: 1, PerHost: 1, Timeout: time.Second},
		{Concurrency: -1, PerHost: 1, Timeout: time.Second},
		{Concurrency: 1, PerHost: 1, Timeout: -time.Second},
		{Concurrency: 1, PerHost: 1, Timeout: time.Second, Retries: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{syscall.ECONNREFUSED, Closed},
		{&net.OpError{Err: syscall.ECONNREFUSED}, Closed},
		{syscall.EMFILE, LocalLimit},
		{syscall.EADDRNOTAVAIL, LocalLimit},
		{context.DeadlineExceeded, Filtered},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
