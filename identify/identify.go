// Package identify tells which protocol answers on an open port, whatever
// its number: it reads a banner, tries TLS, then sends protocol hellos.
package identify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

// Options tune identification.
type Options struct {
	// BannerWait is how long to wait for a server that speaks first.
	BannerWait time.Duration
	// StepTimeout bounds each hello exchange.
	StepTimeout time.Duration
	// MaxBanner caps the bytes read per exchange.
	MaxBanner int
	// NoTLS skips the TLS attempt.
	NoTLS bool
	// ServerName is sent in the TLS ClientHello (SNI) when the target came
	// from a host name.
	ServerName string
}

// DefaultOptions are the defaults of `ajar scan`.
func DefaultOptions() Options {
	return Options{BannerWait: 700 * time.Millisecond, StepTimeout: 2 * time.Second, MaxBanner: 64 << 10}
}

// Dialer opens a fresh connection to the target being identified.
type Dialer func(ctx context.Context) (net.Conn, error)

// Identify returns what answers at the target. An unknown protocol is not an
// error: the Service then has an empty Protocol. The error reports a failure
// to connect at all.
func Identify(ctx context.Context, t ajar.Target, dial Dialer, opt Options) (ajar.Service, error) {
	if opt.MaxBanner <= 0 {
		opt.MaxBanner = DefaultOptions().MaxBanner
	}
	svc, err := identifyPlain(ctx, t, dial, opt, "tcp")
	if err != nil || svc.Protocol != "" || opt.NoTLS || svc.Banner != "" {
		return svc, err
	}
	if ctx.Err() != nil {
		return svc, ctx.Err()
	}
	// Nothing spoke and nothing answered a hello in clear: try TLS, and
	// identify what runs inside it.
	state, terr := handshake(ctx, dial, opt)
	if terr != nil {
		return svc, nil
	}
	cfg := tlsConfig(opt)
	tlsDial := func(ctx context.Context) (net.Conn, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, cfg)
		hctx, cancel := context.WithTimeout(ctx, opt.StepTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	inner, _ := identifyPlain(ctx, t, tlsDial, opt, "tls")
	inner.Transport = "tls"
	inner.TLS = summarize(state)
	return inner, nil
}

// identifyPlain reads a banner, then sends the hellos, on connections from dial.
func identifyPlain(ctx context.Context, t ajar.Target, dial Dialer, opt Options, transport string) (ajar.Service, error) {
	svc := ajar.Service{Transport: transport}
	banner, err := exchange(ctx, dial, nil, opt.BannerWait, opt.MaxBanner)
	if len(banner) == 0 && err != nil && !isTimeout(err) && !errors.Is(err, io.EOF) && !isReset(err) {
		return svc, err
	}
	if len(banner) > 0 {
		svc.Banner = printable(banner, 160)
		if s, ok := matchBanner(banner); ok {
			s.Transport, s.Banner = transport, svc.Banner
			if s.Protocol == "mysql" && transport == "tcp" && mysqlOffersTLS(banner) {
				s.TLS = mysqlStartTLS(ctx, dial, banner, opt)
			}
			return s, nil
		}
		// A server that speaks first and matched nothing: hellos would only
		// land in its protocol.
		return svc, nil
	}
	for _, h := range ordered(t.Port) {
		if ctx.Err() != nil {
			return svc, ctx.Err()
		}
		var s ajar.Service
		var ok bool
		if h.run != nil {
			s, ok = h.run(ctx, t, dial, opt)
		} else {
			answer, _ := exchange(ctx, dial, h.payload, opt.StepTimeout, opt.MaxBanner)
			if len(answer) == 0 {
				continue
			}
			if s, ok = h.match(answer); ok && s.Banner == "" {
				s.Banner = printable(answer, 160)
			}
		}
		if ok {
			s.Transport = transport
			if s.Protocol == "postgresql" && transport == "tcp" && strings.HasPrefix(s.Banner, "S") {
				s.TLS = postgresStartTLS(ctx, dial, opt)
			}
			return s, nil
		}
	}
	return svc, nil
}

// ordered puts the hellos whose usual port is p first, keeping the rest in
// order of likelihood.
func ordered(p uint16) []hello {
	out := make([]hello, 0, len(hellos))
	for _, h := range hellos {
		if slices.Contains(h.ports, p) {
			out = append(out, h)
		}
	}
	for _, h := range hellos {
		if !slices.Contains(h.ports, p) {
			out = append(out, h)
		}
	}
	return out
}

// exchange dials, sends payload (if any) and reads what comes back within
// wait, at most max bytes. It returns what was read even with an error.
func exchange(ctx context.Context, dial Dialer, payload []byte, wait time.Duration, max int) ([]byte, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return talk(ctx, c, payload, wait, max, complete)
}

// talk sends payload on c and reads until done says the answer is complete,
// the deadline passes or max bytes arrived.
func talk(ctx context.Context, c net.Conn, payload []byte, wait time.Duration, max int, done func([]byte) bool) ([]byte, error) {
	dl := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	if len(payload) > 0 {
		if _, err := c.Write(payload); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 0, min(max, 4096))
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max-len(buf), cap(buf)))
		}
		k, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
		if len(buf) > 0 && done(buf) {
			break
		}
	}
	return buf, nil
}

// complete reports whether an answer looks finished, so that identification
// does not wait out the deadline for servers that have said enough.
func complete(b []byte) bool {
	if isMySQLPacket(b) {
		return len(b) >= 4+int(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16)
	}
	if len(b) == 1 {
		return true
	}
	if bytes.HasPrefix(b, []byte("HTTP/")) {
		return false // read to the end or the cap
	}
	return bytes.HasSuffix(b, []byte("\n"))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// printable renders up to n bytes of b with non-printing bytes escaped.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteString(`\x`)
			const hex = "0123456789abcdef"
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		}
	}
	return sb.String()
}
