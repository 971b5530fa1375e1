package syn

import "sync"

// maxBatch is the number of packets per sendmmsg and recvmmsg call.
const maxBatch = 64

// batch is a run of probes sent in one system call.
type batch struct {
	n    int
	p    [maxBatch]probe
	sent int64 // when it was sent, ns since the scan began
}

// entry is a probe waiting for its answer.
type entry struct {
	pos   uint64 // position of the target in the caller's walk
	tries int32  // sends so far
}

// table holds the probes without an answer, keyed by probe.key, and the
// batches in the order they were sent so that the oldest can be expired
// without a scan of the table. Its size is bounded by the rate times the
// wait, not by the size of the scan.
type table struct {
	mu    sync.Mutex
	m     map[uint64]entry
	fifo  []*batch
	head  int
	spare []*batch
}

func newTable() *table { return &table{m: make(map[uint64]entry, 1<<12)} }

// add registers the probes of b, before they are sent, and drops from b
// any probe already waiting (a target repeated in the walk). It returns the
// positions of the dropped ones.
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
	t.mu.Unlock()
}

// sent queues b, sent at now, for expiry.
func (t *table) sent(b *batch) {
	t.mu.Lock()
	t.fifo = append(t.fifo, b)
	t.mu.Unlock()
}

// answer removes the probe of key and returns its entry, if it was waiting.
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

// oldest returns when the oldest queued batch was sent, and false when none is queued.
func (t *table) oldest() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.fifo) {
		return 0, false
	}
	return t.fifo[t.head].sent, true
}

// expire takes every batch sent before deadline off the queue. Of its
// probes still waiting, those sent fewer than tries times go into retry
// batches (handed to resend) and the others are given up (handed to
// giveUp with their position).
func (t *table) expire(deadline int64, tries int32, resend func(*batch), giveUp func(pos uint64)) {
	var out *batch
	var lost []uint64
	t.mu.Lock()
	for t.head < len(t.fifo) && t.fifo[t.head].sent <= deadline {
		b := t.fifo[t.head]
		t.fifo[t.head] = nil
		t.head++
		for _, p := range b.p[:b.n] {
			k := p.key()
			e, ok := t.m[k]
			if !ok {
				continue
			}
			if e.tries >= tries {
				delete(t.m, k)
				lost = append(lost, e.pos)
				continue
			}
			e.tries++
			t.m[k] = e
			if out == nil {
				out = t.newBatchLocked()
			}
			out.p[out.n] = p
			out.n++
			if out.n == maxBatch {
				t.mu.Unlock()
				resend(out)
				t.mu.Lock()
				out = nil
			}
		}
		t.spare = append(t.spare, b)
	}
	if t.head > 64 && t.head*2 > len(t.fifo) {
		n := copy(t.fifo, t.fifo[t.head:])
		clear(t.fifo[n:])
		t.fifo, t.head = t.fifo[:n], 0
	}
	t.mu.Unlock()
	if out != nil {
		resend(out)
	}
	for _, pos := range lost {
		giveUp(pos)
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
		b.n = 0
		return b
	}
	return new(batch)
}
