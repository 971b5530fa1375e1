package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ajar-scan/ajar"
)

// ErrNotTarget is returned when a client library tries to dial anything but
// the probed target (a replica-set member, a redirect, a passive-mode
// address elsewhere).
var ErrNotTarget = errors.New("refused to dial an address other than the target")

// ErrReadCap is returned by a connection once the bytes read from it reach
// the dialer's cap: a hostile server costs a bounded amount of memory.
var ErrReadCap = errors.New("read cap reached")

// DefaultReadCap is the most bytes a probe reads on one connection.
const DefaultReadCap = 16 << 20

// TargetDialer dials one target and nothing else.
type TargetDialer struct {
	Target ajar.Target
	// Timeout bounds each connect; the context may bound it further.
	Timeout time.Duration
	// ReadCap bounds the bytes read on each connection (DefaultReadCap when 0).
	ReadCap int64
	// Net dials; nil means a net.Dialer.
	Net func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, wraps every connection in a TLS client: the service
	// was identified behind TLS, so its protocol runs inside it.
	TLS *tls.Config
}

var _ Dialer = (*TargetDialer)(nil)

// Dial connects to the target. The connection's deadline is the context's
// deadline, so that a probe that forgets a deadline still ends.
func (d *TargetDialer) Dial(ctx context.Context) (net.Conn, error) {
	to := d.Timeout
	if to <= 0 {
		to = 5 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	dial := d.Net
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(cctx, "tcp", d.Target.AddrPort().String())
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	limit := d.ReadCap
	if limit <= 0 {
		limit = DefaultReadCap
	}
	cc := &CappedConn{Conn: c, limit: limit}
	// Close the connection when the context ends, so that a blocked read
	// returns at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	cc.stop = stop
	if d.TLS == nil {
		return cc, nil
	}
	tc := tls.Client(cc, d.TLS)
	if err := tc.HandshakeContext(cctx); err != nil {
		cc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// InsecureTLS is the TLS configuration of a scanner: it must see the
// certificate of any server, valid or not, so it verifies nothing; what the
// certificate says is recorded, not trusted.
func InsecureTLS(serverName string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // a scanner records certificates, it does not trust them
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS10,
	}
}

// DialAddr dials addr if it is the target's address and port.
func (d *TargetDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, ErrNotTarget)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		// A host name: never resolved here, the target is an address.
		return nil, fmt.Errorf("dial %s: %w", addr, ErrNotTarget)
	}
	if ap.Addr().Unmap() != d.Target.Addr.Unmap() || ap.Port() != d.Target.Port {
		return nil, fmt.Errorf("dial %s (target is %s): %w", addr, d.Target, ErrNotTarget)
	}
	return d.Dial(ctx)
}

// CappedConn is a net.Conn whose reads stop with ErrReadCap after a limit.
type CappedConn struct {
	net.Conn
	limit int64
	read  atomic.Int64
	stop  func() bool
}

// Read reads at most up to the cap.
func (c *CappedConn) Read(p []byte) (int, error) {
	left := c.limit - c.read.Load()
	if left <= 0 {
		return 0, ErrReadCap
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// BytesRead is how many bytes were read so far.
func (c *CappedConn) BytesRead() int64 { return c.read.Load() }

// Close closes the connection and releases the context watch.
func (c *CappedConn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.Conn.Close()
}
