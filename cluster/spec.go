package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ajar-scan/ajar/targets"
)

// Spec is what a cluster scan covers and how each shard is scanned. It holds
// the target space after exclusions, with host names already resolved, so
// that every worker rebuilds exactly the coordinator's space: the same
// index space, the same walk, the same shards. (Host names themselves are
// not carried: events of a cluster scan have no Host.)
type Spec struct {
	// Ranges are the address ranges of the space (targets.Range strings).
	Ranges []string `json:"ranges"`
	// Ports and ExcludePorts are those of targets.Spec.
	Ports        []uint16 `json:"ports"`
	ExcludePorts []string `json:"exclude_ports,omitempty"`
	// Seed picks the order of the walk, the same for every shard.
	Seed uint64 `json:"seed"`
	// Shards is how many parts the walk is cut into.
	Shards int `json:"shards"`

	// Rate is the most connection attempts per second of the whole
	// cluster on this scan, retries included; 0 means no limit.
	Rate         float64       `json:"rate,omitempty"`
	PerHost      int           `json:"per_host,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
	Retries      int           `json:"retries"`
	ProbeTimeout time.Duration `json:"probe_timeout,omitempty"`
	DefaultCreds bool          `json:"default_creds,omitempty"`
	Samples      int           `json:"samples"`
	CountCap     int64         `json:"count_cap"`
}

// TargetsPerShard is the size of a shard that DefaultShards aims at: a few
// seconds of one worker's scanning, so that a worker that dies costs little
// and the shards spread over many workers.
const TargetsPerShard = 1 << 16

// MaxShards bounds the number of shards of one scan.
const MaxShards = 1 << 20

// DefaultShards is the number of shards of a space of total targets.
func DefaultShards(total uint64) int {
	n := (total + TargetsPerShard - 1) / TargetsPerShard
	return int(min(max(n, 1), MaxShards))
}

// NewSpec describes the space sp, built with the port exclusions
// excludePorts, for a cluster scan.
func NewSpec(sp *targets.Space, excludePorts []string) Spec {
	s := Spec{Ports: sp.Ports(), ExcludePorts: excludePorts}
	for r := range sp.Ranges() {
		s.Ranges = append(s.Ranges, r.String())
	}
	return s
}

// Validate reports the first field that makes no sense.
func (s Spec) Validate() error {
	switch {
	case len(s.Ranges) == 0:
		return errors.New("scan spec: no address ranges")
	case len(s.Ports) == 0:
		return errors.New("scan spec: no ports")
	case s.Shards < 1 || s.Shards > MaxShards:
		return fmt.Errorf("scan spec: %d shards; want 1 to %d", s.Shards, MaxShards)
	case s.Rate < 0:
		return fmt.Errorf("scan spec: negative rate %g", s.Rate)
	}
	return nil
}

// Space rebuilds the target space. Default exclusions were applied when the
// spec was made, so none are applied again.
func (s Spec) Space(ctx context.Context) (*targets.Space, error) {
	sp, err := targets.Build(ctx, targets.Spec{
		Include:           targets.Entries(s.Ranges...),
		Ports:             s.Ports,
		ExcludePorts:      s.ExcludePorts,
		NoDefaultExcludes: true,
		AllowLarge:        true,
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild the target space: %w", err)
	}
	return sp, nil
}

// Walk returns the walk options of shard i (1-based).
func (s Spec) Walk(i int) targets.WalkOptions {
	return targets.WalkOptions{Seed: s.Seed, Shard: i, Shards: s.Shards}
}
