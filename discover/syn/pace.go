package syn

import "sync"

// pacer spaces packets at a rate, a batch at a time: a token bucket from
// which a sender takes a whole batch and then sleeps once, since a sleep per
// packet costs more than a packet at a few hundred thousand per second.
type pacer struct {
	mu     sync.Mutex
	perPkt float64 // nanoseconds per packet; 0 means no limit
	slack  float64 // how far the schedule may fall behind now, in ns
	next   float64 // when the next packet is due, ns since the scan began
}

// newPacer returns a pacer of rate packets per second (≤ 0: no limit) that
// lets a sender late by up to slackNS catch up with a burst.
func newPacer(rate float64, slackNS int64) *pacer {
	p := &pacer{}
	if rate > 0 {
		p.perPkt = 1e9 / rate
		p.slack = float64(slackNS)
	}
	return p
}

// reserve takes n tokens at now (ns since the scan began) and returns how
// many nanoseconds to wait before sending them.
func (p *pacer) reserve(now int64, n int) int64 {
	if p.perPkt == 0 {
		return 0
	}
	p.mu.Lock()
	t := float64(now)
	if p.next < t-p.slack {
		// Idle or late: do not bank more than the slack.
		p.next = t - p.slack
	}
	at := p.next
	p.next += float64(n) * p.perPkt
	p.mu.Unlock()
	return int64(at) - now
}

// batchSize is the number of packets to send per system call at rate: up
// to maxBatch, and about half a millisecond of traffic at low rates so that
// pacing stays smooth.
func batchSize(rate float64) int {
	if rate <= 0 {
		return maxBatch
	}
	return min(max(int(rate/2000), 1), maxBatch)
}
