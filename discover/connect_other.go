//go:build !linux

package discover

import (
	"context"
	"net/netip"
	"time"
)

// connect tries one TCP handshake with ap through a net.Dialer.
func connect(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (bool, error) {
	return dialConnect(ctx, ap, timeout)
}
