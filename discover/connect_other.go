//go:build !linux

package discover

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// inlineConnect is false here: every attempt goes through a net.Dialer in a
// goroutine of its own.
const inlineConnect = false

// connect tries one TCP handshake with ap through a net.Dialer.
func connect(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (bool, error) {
	return dialConnect(ctx, ap, timeout)
}

var errInline = errors.New("inline connects are not supported on this system")

// spareSockets has nothing to keep here.
type spareSockets struct{}

func newSpareSockets() *spareSockets { return nil }

func (*spareSockets) close() {}

func begin(netip.AddrPort, *spareSockets) (int, bool, error) { return -1, false, errInline }

func wait(context.Context, int, time.Time) (bool, error) { return false, errInline }
