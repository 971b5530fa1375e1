package syn

import "sync"

// maxBatch is the number of packets per sendmmsg and recvmmsg call.
const maxBatch = 64

// batch is a run of probes sent in one system call.
type batch struct {
	n     int
	p     [maxBatch]probe
	sent  int64 // when it was sent, ns since the scan began
	final bool  // every probe in it is on its last try
}

// entry is a probe waiting for its answer.
type entry struct {
	pos   uint64 // position of the target in the caller's walk
	tries int32  // sends so far
}

// table holds the probes without an answer, keyed by probe.key, and the
// batches in the order they were sent so that the oldest can be expired
// without a scan of the table. Batches whose probes may be tried again and
// batches of last tries wait in separate queues: the first may be expired
// early, when answers are known to be lost; the second only after the full
// wait. The table's size is bounded by the rate times the wait, not by the
// size of the scan.
type table struct {
	mu     sync.Mutex
	tries  int32 // sends per probe at most
	m      map[uint64]entry
	retry  fifo
	last   fifo
	spare  []*batch
	missed []missed
}

// missed is a probe given up.
type missed struct{ key, pos uint64 }

// fifo is a queue of batches in the order they were sent.
type fifo struct {
	q    []*batch
	head int
}

func (f *fifo) push(b *batch) { f.q = append(f.q, b) }

// pop returns the oldest batch when it was sent at or before t.
func (f *fifo) pop(t int64) *batch {
	if f.head == len(f.q) || f.q[f.head].sent > t {
		return nil
	}
	b := f.q[f.head]
	f.q[f.head] = nil
	f.head++
	if f.head > 64 && f.head*2 > len(f.q) {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q, f.head = f.q[:n], 0
	}
	return b
}

func (f *fifo) oldest() (int64, bool) {
	if f.head == len(f.q) {
		return 0, false
	}
	return f.q[f.head].sent, true
}

// newTable returns a table for probes sent up to tries times.
func newTable(tries int32) *table {
	return &table{m: make(map[uint64]entry, 1<<12), tries: max(tries, 1)}
}

// add registers the probes of b, before they are sent, and drops from b
// any probe already waiting (a target repeated in the walk).
func (t *table) add(b *batch, pos *[maxBatch]uint64) {
	t.mu.Lock()
	n := 0
	for i := range b.n {
		k := b.p[i].key()
		if _, dup := t.m[k]; dup {
			continue
		}
		t.m[k] = entry{pos: pos[i], tries: 1}
		b.p[n] = b.p[i]
		n++
	}
	b.n = n
	b.final = t.tries == 1
	t.mu.Unlock()
}

// sent queues b for expiry; b.sent must be set.
func (t *table) sent(b *batch) {
	t.mu.Lock()
	if b.final {
		t.last.push(b)
	} else {
		t.retry.push(b)
	}
	t.mu.Unlock()
}

// answer removes the probe of key and returns its entry, if it was waiting.
// The caller holds the lock.
func (t *table) answer(key uint64) (entry, bool) {
	e, ok := t.m[key]
	if ok {
		delete(t.m, key)
	}
	return e, ok
}

// lock and unlock bracket a run of answer calls.
func (t *table) lock()   { t.mu.Lock() }
func (t *table) unlock() { t.mu.Unlock() }

// waiting is the number of probes without an answer.
func (t *table) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// oldest returns when the oldest queued batch was sent, and false when
// none is queued.
func (t *table) oldest() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, okA := t.retry.oldest()
	b, okB := t.last.oldest()
	switch {
	case okA && okB:
		return min(a, b), true
	case okA:
		return a, true
	}
	return b, okB
}

// expire takes off the queues the batches of retries sent at or before
// retryBefore and the batches of last tries sent at or before
// giveUpBefore. Their unanswered probes go into new batches handed to
// resend, or, on their last try, are given up: giveUp gets their keys and
// positions.
func (t *table) expire(retryBefore, giveUpBefore int64, resend func(*batch), giveUp func(key, pos uint64)) {
	var out [2]*batch // more tries to come, last try
	t.mu.Lock()
	for b := t.retry.pop(retryBefore); b != nil; b = t.retry.pop(retryBefore) {
		for _, p := range b.p[:b.n] {
			k := p.key()
			e, ok := t.m[k]
			if !ok {
				continue
			}
			e.tries++
			t.m[k] = e
			i := 0
			if e.tries >= t.tries {
				i = 1
			}
			if out[i] == nil {
				out[i] = t.newBatchLocked()
				out[i].final = i == 1
			}
			o := out[i]
			o.p[o.n] = p
			o.n++
			if o.n == maxBatch {
				t.mu.Unlock()
				resend(o)
				t.mu.Lock()
				out[i] = nil
			}
		}
		t.spare = append(t.spare, b)
	}
	lost := t.missed[:0]
	for b := t.last.pop(giveUpBefore); b != nil; b = t.last.pop(giveUpBefore) {
		for _, p := range b.p[:b.n] {
			if e, ok := t.m[p.key()]; ok {
				delete(t.m, p.key())
				lost = append(lost, missed{p.key(), e.pos})
			}
		}
		t.spare = append(t.spare, b)
	}
	t.missed = lost
	t.mu.Unlock()
	for _, o := range out {
		if o != nil {
			resend(o)
		}
	}
	for _, m := range lost {
		giveUp(m.key, m.pos)
	}
}

// newBatch returns an empty batch, reusing one that expired.
func (t *table) newBatch() *batch {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.newBatchLocked()
}

func (t *table) newBatchLocked() *batch {
	if n := len(t.spare); n > 0 {
		b := t.spare[n-1]
		t.spare = t.spare[:n-1]
		b.n, b.final = 0, false
		return b
	}
	return new(batch)
}
