package syn

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
)

// Run sends a SYN to every target and calls found for each port that
// answers with a SYN-ACK, once per port. done, when not nil, is called with
// the position of every target that answered or was given up after
// opt.Retries more tries. found and done are called from one goroutine,
// never at once. Run returns when every target is settled, or when ctx ends
// (with ctx's error).
//
// Targets must all be IPv4 (IPv6 ones fail with ErrNotIPv4, for a connect
// scan to handle) and either all loopback or none (ErrMixed). The source
// address is the one the kernel picks for the first target. The kernel
// resets the connections our SYN-ACKs would open, as it does for any
// segment to a port without a socket; this also keeps listeners from
// holding half-open connections that would answer a later scan from a
// stale sequence number. Found.RTT is not measured in this mode.
func Run(ctx context.Context, targets iter.Seq2[uint64, ajar.Target], opt Options, found func(discover.Found), done func(pos uint64)) (Stats, error) {
	if err := opt.Validate(); err != nil {
		return Stats{}, err
	}
	opt = opt.withDefaults()
	c := opt.Counters
	if c == nil {
		c = new(Counters)
	}
	if done == nil {
		done = func(uint64) {}
	}
	e := &engine{opt: opt, c: c, found: found, done: done, tab: newTable(int32(opt.Retries + 1)), hosts: map[uint64]string{}, hold: -1}
	err := e.run(ctx, targets)
	return c.Snapshot(), err
}

// engine is one scan: sender goroutines pull the targets in batches and
// put them on the wire; one receiver matches the answers, expires probes
// and decides when the scan is over.
type engine struct {
	opt   Options
	c     *Counters
	found func(discover.Found)
	done  func(uint64)

	sess     session
	loopback bool
	start    time.Time
	tab      *table
	pace     *pacer
	bsize    int

	srcMu   sync.Mutex
	next    func() (uint64, ajar.Target, bool) // the caller's targets
	pending *job                               // a target pulled but not probed yet

	hostMu sync.Mutex
	hosts  map[uint64]string // host names of the targets that have one

	hold   int // socket that holds the source port
	sendFD []int
	recv   *os.File
	recvFD int // recv's descriptor, for getsockopt (File.Fd would make it blocking)

	retry    chan *batch   // probes to send again, from the receiver
	finished chan struct{} // closed by the receiver when the scan is over
	inflight atomic.Int64  // batches taken by senders and not yet queued for expiry
	produced atomic.Bool   // every target was taken by a sender
}

type job struct {
	pos uint64
	t   ajar.Target
}

func (e *engine) now() int64 { return int64(time.Since(e.start)) }

func (e *engine) run(parent context.Context, targets iter.Seq2[uint64, ajar.Target]) error {
	// The senders pull the targets themselves, rather than wait on a
	// producer goroutine that would need a CPU while they hold both in
	// system calls.
	next, stop := iter.Pull2(targets)
	defer stop()
	pos, first, ok := next()
	if !ok {
		return parent.Err()
	}
	defer e.close()
	if err := e.setup(first.Addr); err != nil {
		return err
	}
	e.next, e.pending = next, &job{pos, first}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(1 + len(e.sendFD))
	go func() { defer wg.Done(); e.receive(ctx, cancel) }()
	for _, fd := range e.sendFD {
		go func() { defer wg.Done(); e.send(ctx, cancel, fd) }()
	}
	wg.Wait()
	e.c.RecvDrops.Store(recvDrops(e.recvFD))
	if err := parent.Err(); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// take fills a batch with the next targets and registers them; it returns
// nil when the targets are used up. A target that cannot be probed fails
// the scan.
func (e *engine) take(fail context.CancelCauseFunc) *batch {
	b := e.tab.newBatch()
	var pos [maxBatch]uint64
	e.srcMu.Lock()
	exhausted := e.produced.Load()
	for b.n < e.bsize && !exhausted {
		var j job
		if e.pending != nil {
			j, e.pending = *e.pending, nil
		} else {
			var ok bool
			if j.pos, j.t, ok = e.next(); !ok {
				exhausted = true
				break
			}
		}
		dst, err := destination(j.t.Addr, e.loopback)
		if err != nil {
			fail(err)
			exhausted = true
			break
		}
		b.p[b.n] = probe{dst: dst, port: j.t.Port}
		pos[b.n] = j.pos
		if j.t.Host != "" {
			e.hostMu.Lock()
			e.hosts[b.p[b.n].key()] = j.t.Host
			e.hostMu.Unlock()
		}
		b.n++
	}
	if b.n > 0 {
		e.inflight.Add(1)
	}
	// Only now, with the batch counted in flight, may the receiver see
	// that the targets are used up.
	if exhausted {
		e.produced.Store(true)
	}
	e.srcMu.Unlock()
	if b.n == 0 {
		return nil
	}
	if e.tab.add(b, &pos); b.n == 0 {
		e.inflight.Add(-1)
		return nil
	}
	return b
}

// setup picks the source, opens the sockets and draws the cookie key.
func (e *engine) setup(first netip.Addr) error {
	first = first.Unmap()
	if !first.Is4() {
		return fmt.Errorf("target %s: %w", first, ErrNotIPv4)
	}
	e.loopback = first.IsLoopback()
	src, err := sourceFor(first)
	if err != nil {
		return err
	}
	fd, port, err := holdPort(src, e.opt.SourcePort)
	if err != nil {
		return err
	}
	e.hold = fd
	rfd, err := openReceiver(src, port)
	if err != nil {
		return err
	}
	e.recv, e.recvFD = os.NewFile(uintptr(rfd), "syn-receive"), rfd
	for range e.opt.Senders {
		fd, err := openSender(e.loopback)
		if err != nil {
			return err
		}
		e.sendFD = append(e.sendFD, fd)
	}
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("draw the cookie key: %w", err)
	}
	e.sess = session{src: binary.BigEndian.Uint32(src.AsSlice()), sport: port,
		key: sipKey{binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])}}
	e.bsize = batchSize(e.opt.Rate)
	// Sleeps overshoot by up to a scheduler tick: let a late sender catch
	// up by that much rather than lose the time.
	e.pace = newPacer(e.opt.Rate, int64(2*time.Millisecond))
	e.retry = make(chan *batch, 1024)
	e.finished = make(chan struct{})
	e.start = time.Now()
	return nil
}

func (e *engine) close() {
	for _, fd := range e.sendFD {
		unix.Close(fd)
	}
	if e.recv != nil {
		e.recv.Close()
	}
	if e.hold >= 0 {
		unix.Close(e.hold)
	}
}

// send puts batches on the wire from one socket until the scan is over.
func (e *engine) send(ctx context.Context, fail context.CancelCauseFunc, fd int) {
	var (
		bufs  [maxBatch][probeLen]byte
		addrs [maxBatch]unix.RawSockaddrInet4
		iovs  [maxBatch]unix.Iovec
		hdrs  [maxBatch]mmsghdr
	)
	for i := range hdrs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(probeLen)
		addrs[i].Family = unix.AF_INET
		hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&addrs[i]))
		hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		hdrs[i].hdr.Iov = &iovs[i]
		hdrs[i].hdr.SetIovlen(1)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		var b *batch
		select {
		case b = <-e.retry:
		default:
			if !e.produced.Load() {
				b = e.take(fail)
			}
		}
		if b == nil {
			select {
			case b = <-e.retry:
			case <-e.finished:
				return
			case <-ctx.Done():
				return
			}
		}
		if d := e.pace.reserve(e.now(), b.n); d > 0 {
			timer.Reset(time.Duration(d))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		for i, p := range b.p[:b.n] {
			putSYN(bufs[i][:], e.sess.src, p.dst, e.sess.sport, p.port, e.sess.key.cookie(p.dst, p.port, e.sess.sport))
			binary.BigEndian.PutUint32(addrs[i].Addr[:], p.dst)
		}
		// Stamped before the send: on loopback the answers, or their loss
		// to a full receive queue, happen inside the system call, and a
		// loss must find the batch sent before it (see receive).
		b.sent = e.now()
		if err := e.sendAll(ctx, fd, hdrs[:b.n]); err != nil {
			fail(err)
			return
		}
		e.c.Sent.Add(int64(b.n))
		e.tab.sent(b)
		e.inflight.Add(-1)
	}
}

// sendAll sends every message of h. A packet the kernel refuses for its
// destination (no route, a local firewall) is skipped: it stays
// unanswered, is tried again and finally counted as dropped.
func (e *engine) sendAll(ctx context.Context, fd int, h []mmsghdr) error {
	for len(h) > 0 {
		n, err := sendmmsg(fd, h)
		switch {
		case err == nil:
			h = h[n:]
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.EAGAIN):
			// The device queue is full: give it a moment.
			time.Sleep(50 * time.Microsecond)
			if ctx.Err() != nil {
				return nil
			}
		case errors.Is(err, unix.EBADF), errors.Is(err, unix.ENOTSOCK), errors.Is(err, unix.EFAULT), errors.Is(err, unix.EINVAL):
			return fmt.Errorf("send probes: %w", err)
		default:
			h = h[1:]
		}
	}
	return nil
}

// receive reads answers until every probe is settled or ctx ends, then
// closes e.finished.
func (e *engine) receive(ctx context.Context, fail context.CancelCauseFunc) {
	defer close(e.finished)
	rc, err := e.recv.SyscallConn()
	if err != nil {
		fail(fmt.Errorf("receive answers: %w", err))
		return
	}
	var (
		bufs [maxBatch][snapLen]byte
		iovs [maxBatch]unix.Iovec
		hdrs [maxBatch]mmsghdr
	)
	for i := range hdrs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(snapLen)
		hdrs[i].hdr.Iov = &iovs[i]
		hdrs[i].hdr.SetIovlen(1)
	}
	type answer struct {
		key uint64
		v   verdict
	}
	var (
		got       [maxBatch]answer
		settled   []settledTarget
		wait      = int64(e.opt.Wait)
		drops     int64
		droppedAt int64 = -1
		resend          = func(b *batch) {
			e.inflight.Add(1)
			e.c.Retried.Add(int64(b.n))
			select {
			case e.retry <- b:
			case <-ctx.Done():
			}
		}
		giveUp = func(key, pos uint64) {
			e.c.Dropped.Add(1)
			e.host(key)
			e.done(pos)
		}
	)
	deadline := time.Now().Add(5 * time.Millisecond)
	for ctx.Err() == nil {
		var n int
		var rerr error
		_ = e.recv.SetReadDeadline(deadline)
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = recvmmsg(int(fd), hdrs[:])
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil && rerr != nil && !errors.Is(rerr, unix.EINTR) {
			err = rerr
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			fail(fmt.Errorf("receive answers: %w", err))
			return
		}
		k := 0
		for i := range n {
			r, ok := parseReply(bufs[i][:hdrs[i].len])
			if !ok {
				continue
			}
			v := e.sess.judge(r)
			if v == notOurs {
				continue
			}
			got[k] = answer{probe{dst: r.src, port: r.sport}.key(), v}
			k++
		}
		if k > 0 {
			settled = settled[:0]
			e.tab.lock()
			for _, a := range got[:k] {
				if en, ok := e.tab.answer(a.key); ok {
					settled = append(settled, settledTarget{a.key, en.pos, a.v})
				}
			}
			e.tab.unlock()
			e.report(settled)
		}
		now := e.now()
		retryBefore := now - wait
		if n < maxBatch {
			// The queue is drained. If the kernel dropped answers since the
			// last look, they belong to batches sent before now: try those
			// again at once instead of after the full wait. A last try is
			// still given up only after the full wait.
			if d := recvDrops(e.recvFD); d > drops {
				drops, droppedAt = d, now
				e.c.RecvDrops.Store(d)
			}
			retryBefore = max(retryBefore, droppedAt)
		}
		e.tab.expire(retryBefore, now-wait, resend, giveUp)
		if e.produced.Load() && e.inflight.Load() == 0 && e.tab.waiting() == 0 {
			return
		}
		// When nothing is queued, sleep until an answer comes, the oldest
		// batch expires, or a short while passes (to notice the end).
		until := now + int64(5*time.Millisecond)
		if at, ok := e.tab.oldest(); ok && at+wait < until {
			until = max(at+wait, now+int64(50*time.Microsecond))
		}
		deadline = e.start.Add(time.Duration(until))
	}
}

type settledTarget struct {
	key uint64
	pos uint64
	v   verdict
}

// report hands settled targets to the caller's callbacks.
func (e *engine) report(s []settledTarget) {
	for _, t := range s {
		if t.v == open {
			e.c.Open.Add(1)
			if e.found != nil {
				tg := ajar.Target{Addr: addrOf(uint32(t.key >> 16)), Port: uint16(t.key), Host: e.host(t.key)}
				e.found(discover.Found{Pos: t.pos, Target: tg})
			}
		} else {
			e.c.Closed.Add(1)
			e.host(t.key)
		}
		e.done(t.pos)
	}
}

// host returns and forgets the host name of the target of key.
func (e *engine) host(key uint64) string {
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	if len(e.hosts) == 0 {
		return ""
	}
	h := e.hosts[key]
	delete(e.hosts, key)
	return h
}
