//go:build !linux

package syn

import (
	"context"
	"errors"
	"iter"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
)

var errLinuxOnly = errors.New("SYN scanning needs Linux; use connect mode")

// Available reports whether raw sockets can be opened; on this system they cannot.
func Available() error { return errLinuxOnly }

// Run is not supported on this system; see the Linux implementation.
func Run(ctx context.Context, targets iter.Seq2[uint64, ajar.Target], opt Options, found func(discover.Found), done func(pos uint64)) (Stats, error) {
	return Stats{}, errLinuxOnly
}
