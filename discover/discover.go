// Package discover finds open TCP ports: a connect scanner with a global rate
// limit, bounded concurrency, a per-host cap, timeouts and retries.
package discover

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ajar-scan/ajar"
)

// Options tune the scanner. Zero values take the defaults of DefaultOptions.
type Options struct {
	// Rate is the most connection attempts per second, retries included;
	// 0 means no limit.
	Rate float64
	// Concurrency is the most attempts in flight.
	Concurrency int
	// PerHost is the most attempts in flight to one address.
	PerHost int
	// Timeout bounds one connect.
	Timeout time.Duration
	// Retries is how many more times a port that timed out is tried.
	Retries int
	// Clock drives the rate limiter (tests inject one).
	Clock Clock
	// Dial opens a connection; nil means the built-in connect, which uses
	// the socket calls directly. Tests inject one.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultOptions are the defaults of `ajar scan`.
func DefaultOptions() Options {
	return Options{Rate: 0, Concurrency: 256, PerHost: 64, Timeout: 2 * time.Second, Retries: 1}
}

// Validate reports the first option that makes no sense.
func (o Options) Validate() error {
	switch {
	case o.Rate < 0:
		return fmt.Errorf("--rate must be positive, got %g", o.Rate)
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, got %d", o.Concurrency)
	case o.PerHost < 1:
		return fmt.Errorf("--per-host must be at least 1, got %d", o.PerHost)
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %s", o.Timeout)
	case o.Retries < 0:
		return fmt.Errorf("--retries must not be negative, got %d", o.Retries)
	}
	return nil
}

// Found is one open port, with the position of its target in the walk.
type Found struct {
	Pos    uint64
	Target ajar.Target
	// RTT is how long the successful connect took.
	RTT time.Duration
}

// Stats are the scanner's running counters, safe to read while it runs.
type Stats struct {
	Attempts atomic.Int64 // connects started, retries included
	Done     atomic.Int64 // targets finished (open, closed or given up)
	Open     atomic.Int64
	Backoffs atomic.Int64 // local resource exhaustion, retried
}

// Scanner runs connect scans.
type Scanner struct {
	opt     Options
	limiter *Limiter
	Stats   Stats

	hostMu sync.Mutex
	hosts  map[netip.Addr]*hostSlot
	spare  []*hostSlot // idle slots, reused
}

// New returns a scanner with the given options (validated).
func New(opt Options) (*Scanner, error) {
	def := DefaultOptions()
	if opt.Concurrency == 0 {
		opt.Concurrency = def.Concurrency
	}
	if opt.PerHost == 0 {
		opt.PerHost = def.PerHost
	}
	if opt.Timeout == 0 {
		opt.Timeout = def.Timeout
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	burst := opt.Concurrency / 8
	return &Scanner{
		opt:     opt,
		limiter: NewLimiter(opt.Rate, max(burst, 1), opt.Clock),
		hosts:   map[netip.Addr]*hostSlot{},
	}, nil
}

// Run connects to every target and calls found for each open port, from
// several goroutines at once. done, when not nil, is called with the position
// of every target finished (open or not), for resume bookkeeping. Run returns
// when all targets are done or ctx ends; the error is ctx's in that case.
//
// A few driver goroutines make the attempts. An attempt that settles inside
// the connect call, as on loopback and often on a LAN, costs no goroutine
// switch; one still in flight is handed to a goroutine of its own that
// waits on the runtime's poller, so Concurrency bounds the attempts in
// flight without as many idle workers.
func (s *Scanner) Run(ctx context.Context, targets iter.Seq2[uint64, ajar.Target], found func(Found), done func(pos uint64)) error {
	r := &runner{s: s, ctx: ctx, found: found, done: done, slots: make(chan struct{}, s.opt.Concurrency)}
	jobs := make(chan job, 256)
	var drivers sync.WaitGroup
	for range min(s.opt.Concurrency, 2*runtime.GOMAXPROCS(0)) {
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			spare := newSpareSockets()
			defer spare.close()
			for j := range jobs {
				r.start(j, spare)
			}
		}()
	}
	for pos, t := range targets {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- job{pos, t}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	drivers.Wait()
	r.handed.Wait()
	return ctx.Err()
}

type job struct {
	pos uint64
	t   ajar.Target
}

// runner is one Run: the drivers' shared state.
type runner struct {
	s      *Scanner
	ctx    context.Context
	found  func(Found)
	done   func(pos uint64)
	slots  chan struct{} // one per target in hand: bounds Concurrency
	handed sync.WaitGroup
}

// start takes a target in hand. It settles the target at once when the
// host has room and the first attempt settles inside the connect call;
// otherwise it hands the target, and the attempt in flight, to a goroutine.
func (r *runner) start(j job, spare *spareSockets) {
	s := r.s
	select {
	case r.slots <- struct{}{}:
	case <-r.ctx.Done():
		return
	}
	st := attemptState{fd: -1}
	if inlineConnect && s.opt.Dial == nil {
		if host := s.tryAcquireHost(j.t.Addr); host != nil {
			st.host = host
			if s.limiter.Wait(r.ctx) != nil {
				r.finish(j, st.host, false, 0)
				return
			}
			s.Stats.Attempts.Add(1)
			st.start = time.Now()
			fd, open, err := begin(j.t.AddrPort(), spare)
			switch {
			case fd >= 0:
				st.fd = fd
			case err == errZone:
				// Not attempted: the goroutine dials it through the net package.
				s.Stats.Attempts.Add(-1)
			case open:
				r.finish(j, st.host, true, time.Since(st.start))
				return
			case Classify(err) == Closed:
				r.finish(j, st.host, false, 0)
				return
			case Classify(err) == LocalLimit:
				s.Stats.Backoffs.Add(1)
				st.backoff = true
			default:
				st.tried = 1
			}
		}
	}
	r.handed.Add(1)
	go func() {
		defer r.handed.Done()
		if st.host == nil {
			if st.host = s.acquireHost(r.ctx, j.t.Addr); st.host == nil {
				r.finish(j, nil, false, 0)
				return
			}
		}
		open, rtt := s.settle(r.ctx, j.t, st)
		r.finish(j, st.host, open, rtt)
	}()
}

// finish releases the target's host slot and in-flight slot and reports it.
func (r *runner) finish(j job, host *hostSlot, open bool, rtt time.Duration) {
	if host != nil {
		r.s.releaseHost(j.t.Addr, host)
	}
	<-r.slots
	s := r.s
	s.Stats.Done.Add(1)
	if open {
		s.Stats.Open.Add(1)
		r.found(Found{Pos: j.pos, Target: j.t, RTT: rtt})
	}
	if r.done != nil && r.ctx.Err() == nil {
		r.done(j.pos)
	}
}

// attemptState is where a target's attempts stand when it is handed over.
type attemptState struct {
	host    *hostSlot
	fd      int       // a handshake in flight, or -1
	start   time.Time // when that handshake began
	tried   int       // attempts that counted against Retries
	backoff bool      // the last attempt hit a local limit
}

// settle makes the attempts on t, with retries, from where st stands; it
// reports whether the port is open.
func (s *Scanner) settle(ctx context.Context, t ajar.Target, st attemptState) (bool, time.Duration) {
	backoff := 10 * time.Millisecond
	for {
		var open bool
		var err error
		switch {
		case st.fd >= 0:
			open, err = wait(ctx, st.fd, st.start.Add(s.opt.Timeout))
			st.fd = -1
		case st.backoff:
			// Out of file descriptors or local ports: that says nothing
			// about the target. Wait and try again without using a retry.
			st.backoff = false
			if (realClock{}).Sleep(ctx, backoff) != nil {
				return false, 0
			}
			backoff = min(backoff*2, time.Second)
			continue
		case st.tried > s.opt.Retries:
			return false, 0
		default:
			if s.limiter.Wait(ctx) != nil {
				return false, 0
			}
			s.Stats.Attempts.Add(1)
			st.start = time.Now()
			open, err = s.connect(ctx, t)
		}
		if open {
			return true, time.Since(st.start)
		}
		if ctx.Err() != nil {
			return false, 0
		}
		switch Classify(err) {
		case Closed:
			return false, 0
		case LocalLimit:
			s.Stats.Backoffs.Add(1)
			st.backoff = true
		default:
			st.tried++
		}
	}
}

// connect makes one attempt on t, through Options.Dial when one is set.
func (s *Scanner) connect(ctx context.Context, t ajar.Target) (bool, error) {
	if s.opt.Dial == nil {
		return connect(ctx, t.AddrPort(), s.opt.Timeout)
	}
	cctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	c, err := s.opt.Dial(cctx, "tcp", t.AddrPort().String())
	if err != nil {
		return false, err
	}
	closeReset(c)
	return true, nil
}

// errZone marks an IPv6 address with a zone, which begin leaves to the
// net package.
var errZone = errors.New("address with a zone")

// dialConnect tries one TCP handshake with ap through a net.Dialer.
func dialConnect(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialTCP(cctx, "tcp", netip.AddrPort{}, ap)
	if err != nil {
		return false, err
	}
	closeReset(c)
	return true, nil
}

// closeReset closes c with a reset instead of a graceful close: no
// TIME_WAIT left on our side, nothing more sent to the service.
func closeReset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// hostSlot bounds the attempts in flight to one address.
type hostSlot struct {
	sem  chan struct{}
	refs int
}

// slotFor returns the slot of a, with a reference taken. The caller holds hostMu.
func (s *Scanner) slotFor(a netip.Addr) *hostSlot {
	h := s.hosts[a]
	if h == nil {
		if n := len(s.spare); n > 0 {
			h, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			h = &hostSlot{sem: make(chan struct{}, s.opt.PerHost)}
		}
		s.hosts[a] = h
	}
	h.refs++
	return h
}

// unref drops a reference to the slot of a. The caller holds hostMu.
func (s *Scanner) unref(a netip.Addr, h *hostSlot) {
	h.refs--
	if h.refs == 0 {
		delete(s.hosts, a)
		// An idle slot's semaphore is empty: keep a few for the next hosts.
		if len(s.spare) < 1024 {
			s.spare = append(s.spare, h)
		}
	}
}

// tryAcquireHost takes a slot of a without waiting; nil when a is at its
// limit.
func (s *Scanner) tryAcquireHost(a netip.Addr) *hostSlot {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	h := s.slotFor(a)
	select {
	case h.sem <- struct{}{}:
		return h
	default:
		s.unref(a, h)
		return nil
	}
}

// acquireHost takes a slot of a, waiting for one; nil when ctx ends first.
func (s *Scanner) acquireHost(ctx context.Context, a netip.Addr) *hostSlot {
	s.hostMu.Lock()
	h := s.slotFor(a)
	s.hostMu.Unlock()
	select {
	case h.sem <- struct{}{}:
		return h
	case <-ctx.Done():
		s.hostMu.Lock()
		s.unref(a, h)
		s.hostMu.Unlock()
		return nil
	}
}

// releaseHost gives back a slot taken by acquireHost or tryAcquireHost.
func (s *Scanner) releaseHost(a netip.Addr, h *hostSlot) {
	<-h.sem
	s.hostMu.Lock()
	s.unref(a, h)
	s.hostMu.Unlock()
}

// Outcome classifies a failed connect.
type Outcome int

// The outcomes of a failed connect.
const (
	// Filtered: no answer in time, or a network error; worth a retry.
	Filtered Outcome = iota
	// Closed: the host answered with a reset (or the port is unreachable).
	Closed
	// LocalLimit: this machine ran out of descriptors or ports.
	LocalLimit
)

// Classify tells what a connect error says about the port.
func Classify(err error) Outcome {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return Closed
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.ENOBUFS):
		return LocalLimit
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Closed
	}
	return Filtered
}

// RaiseFileLimit lifts the soft limit on open files to the hard limit, so
// that high concurrency does not run out of descriptors. It returns the
// limit in force afterwards.
func RaiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read open-file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl.Cur, fmt.Errorf("raise open-file limit: %w", err)
		}
	}
	return rl.Cur, nil
}
