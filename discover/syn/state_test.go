package syn

import (
	"slices"
	"testing"
)

func batchOf(ps ...probe) (*batch, *[maxBatch]uint64) {
	b := new(batch)
	var pos [maxBatch]uint64
	for i, p := range ps {
		b.p[i] = p
		pos[i] = uint64(100 + i)
	}
	b.n = len(ps)
	return b, &pos
}

// recorder collects what expire hands back, and queues resent batches as
// a sender would, sent at the given time.
type recorder struct {
	tab    *table
	at     int64
	resent []probe
	final  []bool
	lost   []uint64
}

func (r *recorder) resend(b *batch) {
	r.resent = append(r.resent, b.p[:b.n]...)
	r.final = append(r.final, b.final)
	b.sent = r.at
	r.tab.sent(b)
}

func (r *recorder) giveUp(_, pos uint64) { r.lost = append(r.lost, pos) }

func (r *recorder) reset() { r.resent, r.final, r.lost = nil, nil, nil }

func answer(tab *table, p probe) (entry, bool) {
	tab.lock()
	defer tab.unlock()
	return tab.answer(p.key())
}

func TestTableAnswerRetryGiveUp(t *testing.T) {
	tab := newTable(2)
	a, c, d := probe{1, 80}, probe{1, 81}, probe{2, 80}
	b, pos := batchOf(a, c, d)
	tab.add(b, pos)
	if b.final {
		t.Fatal("a first try of two is marked final")
	}
	b.sent = 10
	tab.sent(b)

	if e, ok := answer(tab, a); !ok || e.pos != 100 {
		t.Fatalf("answer(a) = %+v, %v", e, ok)
	}
	if _, again := answer(tab, a); again {
		t.Fatal("a second answer for the same probe was accepted")
	}

	r := &recorder{tab: tab, at: 30}
	tab.expire(5, 5, r.resend, r.giveUp) // nothing is that old yet
	if len(r.resent)+len(r.lost) != 0 {
		t.Fatalf("expired early: %v %v", r.resent, r.lost)
	}
	tab.expire(10, 10, r.resend, r.giveUp)
	if !slices.Equal(r.resent, []probe{c, d}) || !slices.Equal(r.final, []bool{true}) || len(r.lost) != 0 {
		t.Fatalf("first expiry: resent %v (final %v), lost %v", r.resent, r.final, r.lost)
	}
	answer(tab, d)
	r.reset()
	// A last try is not given up early, whatever the retry deadline.
	tab.expire(1000, 29, r.resend, r.giveUp)
	if len(r.resent)+len(r.lost) != 0 {
		t.Fatalf("gave up before the wait: %v %v", r.resent, r.lost)
	}
	tab.expire(1000, 30, r.resend, r.giveUp)
	if len(r.resent) != 0 || !slices.Equal(r.lost, []uint64{101}) {
		t.Fatalf("second expiry: resent %v, lost %v", r.resent, r.lost)
	}
	if n := tab.waiting(); n != 0 {
		t.Errorf("%d probes still waiting", n)
	}
	if _, ok := tab.oldest(); ok {
		t.Error("the expiry queues are not empty")
	}
}

func TestTableNoRetries(t *testing.T) {
	tab := newTable(1)
	b, pos := batchOf(probe{1, 80})
	tab.add(b, pos)
	if !b.final {
		t.Fatal("the only try is not marked final")
	}
	b.sent = 0
	tab.sent(b)
	r := &recorder{tab: tab}
	tab.expire(100, 0, r.resend, r.giveUp)
	if len(r.resent) != 0 || !slices.Equal(r.lost, []uint64{100}) {
		t.Errorf("resent %v, lost %v; want nothing resent, 100 lost", r.resent, r.lost)
	}
}

func TestTableDropsRepeatedTargets(t *testing.T) {
	tab := newTable(2)
	b, pos := batchOf(probe{1, 80}, probe{1, 80}, probe{1, 81})
	tab.add(b, pos)
	if b.n != 2 || tab.waiting() != 2 {
		t.Errorf("batch of %d, %d waiting; want 2 and 2", b.n, tab.waiting())
	}
}

func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		n     int
		calls int
	}{
		{rate: 1000, n: 1, calls: 1000},
		{rate: 300000, n: 64, calls: 10000},
		{rate: 50, n: 1, calls: 10},
	} {
		p := newPacer(tc.rate, 0)
		now := int64(0)
		for range tc.calls {
			if d := p.reserve(now, tc.n); d > 0 {
				now += d // sleep exactly as told
			}
		}
		// The last batch starts after all the others were paid for.
		want := float64(tc.calls-1) * float64(tc.n) / tc.rate * 1e9
		if got := float64(now); got < want*0.999 || got > want*1.001+1 {
			t.Errorf("rate %g: %d batches of %d took %.0f ns, want %.0f", tc.rate, tc.calls, tc.n, got, want)
		}
	}
	if d := newPacer(0, 0).reserve(5, 64); d != 0 {
		t.Errorf("an unlimited pacer asked to wait %d ns", d)
	}
	// Idle time is not banked beyond the slack.
	p := newPacer(1000, 2e6)
	p.reserve(0, 1)
	if d := p.reserve(1e9, 10); d > 0 {
		t.Errorf("after idling, asked to wait %d ns", d)
	}
	if d := p.reserve(1e9, 1); d != int64(8e6) {
		t.Errorf("after using the slack, wait %d ns, want 8 ms", d)
	}
}

func TestBatchSize(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want int
	}{{0, 64}, {1, 1}, {10000, 5}, {128000, 64}, {1e7, 64}} {
		if got := batchSize(tc.rate); got != tc.want {
			t.Errorf("batchSize(%g) = %d, want %d", tc.rate, got, tc.want)
		}
	}
}
