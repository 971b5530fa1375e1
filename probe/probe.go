// Package probe defines the interface every protocol plugin implements and the
// registry that holds them. A plugin speaks one protocol on connections the
// engine dials for it; it never writes to the target.
package probe

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"

	"github.com/ajar-scan/ajar"
)

// Options tune how far a probe reads. The zero value is not useful: use
// DefaultOptions and override.
type Options struct {
	// DefaultCreds allows a login with a vendor's documented default
	// password (never a list of guesses). Off by default.
	DefaultCreds bool
	// Samples is the most records sampled per dataset (stored redacted).
	Samples int
	// CountCap is the most rows counted exactly per dataset; above it the
	// server's estimate is used and the dataset is marked estimated.
	CountCap int64
	// MaxDatasets is the most datasets listed per exposure.
	MaxDatasets int
}

// DefaultOptions are the options of a plain `ajar scan`.
func DefaultOptions() Options {
	return Options{Samples: 5, CountCap: 1_000_000, MaxDatasets: 1000}
}

// Dialer opens a new connection to the probed target, and only to it. The
// engine's implementation refuses any other address, applies the context's
// deadline to the connection and caps the bytes read from it.
type Dialer interface {
	// Dial connects to the target.
	Dial(ctx context.Context) (net.Conn, error)
	// DialAddr is for client libraries that dial by address: it refuses any
	// network other than tcp and any address other than the target's.
	DialAddr(ctx context.Context, network, addr string) (net.Conn, error)
}

// Target is what a prober is handed: the address, what identification saw
// there, a dialer and the options.
type Target struct {
	ajar.Target
	Service ajar.Service
	Dialer  Dialer
	Options Options
}

// Result is a prober's verdict on one target.
type Result struct {
	// Status is exposed, protected or open (no verdict).
	Status ajar.Status
	// Product and Version, when the server said them.
	Product string
	Version string
	// Detail says why, in a few words ("NOAUTH Authentication required").
	Detail string
	// Exposure is set when Status is exposed.
	Exposure *ajar.Exposure
}

// Prober is one protocol plugin.
type Prober interface {
	// Name is the plugin name, lower-case; it is part of the exposure key.
	Name() string
	// Protocols lists the protocols (as identify names them) it understands.
	Protocols() []string
	// DefaultPorts are the ports the protocol usually listens on.
	DefaultPorts() []uint16
	// Probe decides whether the target gives data away without credentials.
	// It may return a partial result together with an error.
	Probe(ctx context.Context, t *Target) (*Result, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Prober{}
)

// Register adds a prober. It panics on an empty or duplicate name: both are
// programming errors caught at start-up.
func Register(p Prober) {
	mu.Lock()
	defer mu.Unlock()
	name := p.Name()
	if name == "" {
		panic("probe: Register with an empty name")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("probe: Register called twice for %q", name))
	}
	registry[name] = p
}

// All returns the registered probers sorted by name.
func All() []Prober {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Prober, 0, len(registry))
	for _, p := range registry {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Get returns the prober with the given name.
func Get(name string) (Prober, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// ForProtocol returns the probers that understand protocol, sorted by name.
func ForProtocol(protocol string) []Prober {
	var out []Prober
	for _, p := range All() {
		if slices.Contains(p.Protocols(), protocol) {
			out = append(out, p)
		}
	}
	return out
}

// DataPorts returns the union of the registered probers' default ports,
// sorted: the named port set "data".
func DataPorts() []uint16 {
	var ports []uint16
	for _, p := range All() {
		ports = append(ports, p.DefaultPorts()...)
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}
