// Package syn finds open TCP ports with a stateless SYN scan over IPv4: raw
// SYN probes carrying a keyed cookie, answers matched by that cookie alone.
package syn

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// Options tune a SYN scan. Zero values take the defaults of DefaultOptions,
// except Rate (0 means no limit) and Retries (0 means none).
type Options struct {
	// Rate is the most packets per second, retries included; 0 means no
	// limit.
	Rate float64
	// Retries is how many more times a probe without an answer is sent.
	Retries int
	// Wait is how long a probe may stay unanswered before it is sent again
	// or given up; the scan ends that long after the last send at most, and
	// as soon as every probe is answered.
	Wait time.Duration
	// Senders is the number of goroutines sending, each with its own socket.
	Senders int
	// SourcePort is the TCP port the probes come from; 0 picks a free one.
	// The port is held for the whole scan so that no local connection
	// takes it.
	SourcePort uint16
	// Counters, when not nil, is updated as the scan runs, for progress.
	Counters *Counters
}

// DefaultOptions are the defaults of `ajar discover --syn`.
func DefaultOptions() Options {
	return Options{Retries: 1, Wait: time.Second, Senders: 2}
}

// Validate reports the first option that makes no sense.
func (o Options) Validate() error {
	switch {
	case o.Rate < 0:
		return fmt.Errorf("--rate must not be negative, got %g", o.Rate)
	case o.Retries < 0:
		return fmt.Errorf("--retries must not be negative, got %d", o.Retries)
	case o.Retries > 100:
		return fmt.Errorf("--retries must be at most 100, got %d", o.Retries)
	case o.Wait < 0:
		return fmt.Errorf("--timeout must not be negative, got %s", o.Wait)
	case o.Senders < 0 || o.Senders > 64:
		return fmt.Errorf("senders must be between 1 and 64, got %d", o.Senders)
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := DefaultOptions()
	if o.Wait == 0 {
		o.Wait = def.Wait
	}
	if o.Senders == 0 {
		o.Senders = def.Senders
	}
	return o
}

// Stats count what a scan did.
type Stats struct {
	// Sent is the number of probes sent, retries included.
	Sent int64
	// Retried is the number of probes sent again for want of an answer.
	Retried int64
	// Open and Closed count the targets that answered with a SYN-ACK and
	// with a reset.
	Open, Closed int64
	// Dropped counts the targets given up without an answer after every
	// try: filtered, or lost on the way.
	Dropped int64
	// RecvDrops counts answers the kernel dropped because the receive
	// queue was full; retries make up for them.
	RecvDrops int64
}

// Counters are the running counts of a scan, safe to read while it runs.
type Counters struct {
	Sent, Retried, Open, Closed, Dropped, RecvDrops atomic.Int64
}

// Snapshot returns the counts as they are now.
func (c *Counters) Snapshot() Stats {
	return Stats{
		Sent: c.Sent.Load(), Retried: c.Retried.Load(),
		Open: c.Open.Load(), Closed: c.Closed.Load(),
		Dropped: c.Dropped.Load(), RecvDrops: c.RecvDrops.Load(),
	}
}

// ErrNotIPv4 is returned by Run for an IPv6 target: a SYN scan covers IPv4
// only, so IPv6 targets belong to a connect scan.
var ErrNotIPv4 = errors.New("SYN scanning covers IPv4 only; scan IPv6 targets in connect mode")

// ErrMixed is returned by Run when loopback and other targets are mixed:
// their answers come back to different source addresses.
var ErrMixed = errors.New("a SYN scan covers either loopback or other addresses, not both")

// destination checks that a can be probed in a scan whose first target was
// loopback or not, and returns it as a number.
func destination(a netip.Addr, loopback bool) (uint32, error) {
	a = a.Unmap()
	if !a.Is4() {
		return 0, fmt.Errorf("target %s: %w", a, ErrNotIPv4)
	}
	b := a.As4()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), b == [4]byte{255, 255, 255, 255}:
		return 0, fmt.Errorf("target %s is not a unicast address", a)
	case a.IsLoopback() != loopback:
		return 0, fmt.Errorf("target %s: %w", a, ErrMixed)
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// addrOf turns a number back into an address.
func addrOf(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
