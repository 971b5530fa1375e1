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

func TestTableAnswerRetryGiveUp(t *testing.T) {
	tab := newTable()
	a, c, d := probe{1, 80}, probe{1, 81}, probe{2, 80}
	b, pos := batchOf(a, c, d)
	tab.add(b, pos)
	b.sent = 10
	tab.sent(b)

	tab.lock()
	e, ok := tab.answer(a.key())
	tab.unlock()
	if !ok || e.pos != 100 {
		t.Fatalf("answer(a) = %+v, %v", e, ok)
	}
	tab.lock()
	_, again := tab.answer(a.key())
	tab.unlock()
	if again {
		t.Fatal("a second answer for the same probe was accepted")
	}

	var resent []probe
	var lost []uint64
	resend := func(b *batch) { resent = append(resent, b.p[:b.n]...); b.sent = 30; tab.sent(b) }
	giveUp := func(p uint64) { lost = append(lost, p) }

	tab.expire(5, 2, resend, giveUp) // nothing is that old yet
	if len(resent)+len(lost) != 0 {
		t.Fatalf("expired early: %v %v", resent, lost)
	}
	tab.expire(10, 2, resend, giveUp)
	if !slices.Equal(resent, []probe{c, d}) || len(lost) != 0 {
		t.Fatalf("first expiry: resent %v, lost %v", resent, lost)
	}
	tab.lock()
	tab.answer(d.key())
	tab.unlock()
	resent = nil
	tab.expire(30, 2, resend, giveUp)
	if len(resent) != 0 || !slices.Equal(lost, []uint64{101}) {
		t.Fatalf("second expiry: resent %v, lost %v", resent, lost)
	}
	if n := tab.waiting(); n != 0 {
		t.Errorf("%d probes still waiting", n)
	}
	if _, ok := tab.oldest(); ok {
		t.Error("the expiry queue is not empty")
	}
}

func TestTableDropsRepeatedTargets(t *testing.T) {
	tab := newTable()
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
