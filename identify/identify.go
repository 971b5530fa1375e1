// Package identify tells which protocol answers on an open port, whatever
// its number: it reads a banner and, on other connections, sends protocol
// hellos (a TLS ClientHello among them) a few at a time.
package identify

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ajar-scan/ajar"
)

// Options tune identification.
type Options struct {
	// BannerWait is how long to wait for a server that speaks first.
	BannerWait time.Duration
	// BannerGrace is how long a server gets to speak first before the
	// hellos start on other connections: at least this, and at least twice
	// the time the connection took. The banner is still awaited until
	// BannerWait; a hello that is answered before then ends the wait.
	BannerGrace time.Duration
	// StepTimeout bounds each hello exchange.
	StepTimeout time.Duration
	// Parallel is how many hellos run at once, each on its own connection
	// (the first ones in order start first); 1 sends them one after another.
	Parallel int
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
	return Options{
		BannerWait: 700 * time.Millisecond, BannerGrace: 100 * time.Millisecond,
		StepTimeout: 2 * time.Second, Parallel: 4, MaxBanner: 64 << 10,
	}
}

// withDefaults fills the fields left at zero by callers that predate them.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxBanner <= 0 {
		o.MaxBanner = d.MaxBanner
	}
	if o.Parallel <= 0 {
		o.Parallel = d.Parallel
	}
	if o.BannerGrace <= 0 {
		o.BannerGrace = d.BannerGrace
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = d.StepTimeout
	}
	return o
}

// Dialer opens a fresh connection to the target being identified.
type Dialer func(ctx context.Context) (net.Conn, error)

// Identify returns what answers at the target. An unknown protocol is not an
// error: the Service then has an empty Protocol. The error reports a failure
// to connect at all.
//
// The banner is read on one connection; after a short grace the hellos run
// on others, a few at a time in the order of ordered, and the first
// conclusive answer wins. The matchers exclude each other, so the order
// decides what is tried first, not what is found; a port that speaks both
// plaintext and TLS (MongoDB's preferTLS) is reported by whichever answers
// first, both being true.
func Identify(ctx context.Context, t ajar.Target, dial Dialer, opt Options) (ajar.Service, error) {
	opt = opt.withDefaults()
	svc, state, err := identifyOn(ctx, t, dial, opt, "tcp", !opt.NoTLS)
	if err != nil || state == nil {
		return svc, err
	}
	// A TLS handshake succeeded: identify what runs inside it.
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
	inner, _, _ := identifyOn(ctx, t, tlsDial, opt, "tls", false)
	inner.Transport = "tls"
	inner.TLS = summarize(*state)
	return inner, ctx.Err()
}

// attempt is the outcome of one hello.
type attempt struct {
	svc ajar.Service
	// ok: svc is the answer.
	ok bool
	// tls is set when the TLS hello completed a handshake.
	tls *tls.ConnectionState
}

// bannerResult is what the first connection saw before sending anything.
type bannerResult struct {
	answer  []byte
	dialErr error
	svc     ajar.Service
	ok      bool
}

// identifyOn runs one identification on connections from dial: the banner,
// then the hellos (the TLS hello among them when tryTLS). It returns the
// service, or the state of a TLS handshake that succeeded (the caller then
// looks inside), or an error when the target cannot be reached.
func identifyOn(ctx context.Context, t ajar.Target, dial Dialer, opt Options, transport string, tryTLS bool) (ajar.Service, *tls.ConnectionState, error) {
	svc := ajar.Service{Transport: transport}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Deferred in this order so that every exchange is aborted before the
	// wait: no goroutine outlives the call.
	defer wg.Wait()
	defer cancel()

	dialed := make(chan time.Duration, 1)
	banner := make(chan bannerResult, 1)
	wg.Go(func() { banner <- readBanner(ctx, dial, opt, transport, dialed) })

	list := ordered(t.Port, tryTLS)
	results := make(chan attempt, len(list))
	start := make(chan struct{})
	wg.Go(func() { runHellos(ctx, t, dial, opt, transport, list, start, results) })
	started := false
	startHellos := func() {
		if !started {
			started = true
			close(start)
		}
	}

	var grace <-chan time.Time
	pending, bannerDone := len(list), false
	for !bannerDone || pending > 0 {
		select {
		case d := <-dialed:
			g := min(max(opt.BannerGrace, 2*d), opt.BannerWait)
			timer := time.NewTimer(g)
			defer timer.Stop()
			grace = timer.C
		case <-grace:
			startHellos()
		case b := <-banner:
			bannerDone = true
			switch {
			case b.dialErr != nil:
				return svc, nil, b.dialErr
			case b.ok:
				return b.svc, nil, nil
			case len(b.answer) > 0:
				// A server that speaks first and matched nothing: hellos
				// would only land in its protocol.
				svc.Banner = printable(b.answer, 160)
				return svc, nil, nil
			}
			startHellos()
		case a := <-results:
			pending--
			if a.ok {
				return a.svc, nil, nil
			}
			if a.tls != nil {
				return svc, a.tls, nil
			}
		case <-ctx.Done():
			return svc, nil, ctx.Err()
		}
	}
	return svc, nil, nil
}

// readBanner dials, reports how long that took, and reads what the server
// says unasked. A MySQL greeting that offers TLS is answered with an
// SSLRequest on the same connection, to read the certificate.
func readBanner(ctx context.Context, dial Dialer, opt Options, transport string, dialed chan<- time.Duration) bannerResult {
	begin := time.Now()
	c, err := dial(ctx)
	if err != nil {
		return bannerResult{dialErr: err}
	}
	defer c.Close()
	dialed <- time.Since(begin)
	b, _ := talk(ctx, c, nil, opt.BannerWait, opt.MaxBanner, complete)
	res := bannerResult{answer: b}
	if len(b) == 0 {
		return res
	}
	res.svc, res.ok = matchBanner(b)
	if !res.ok {
		return res
	}
	res.svc.Transport, res.svc.Banner = transport, printable(b, 160)
	if res.svc.Protocol == "mysql" && transport == "tcp" && mysqlOffersTLS(b) {
		res.svc.TLS = mysqlStartTLS(ctx, c, opt)
	}
	return res
}

// runHellos sends the hellos once start is closed, at most opt.Parallel at
// a time, in order; each attempt goes to out (buffered for all of them).
func runHellos(ctx context.Context, t ajar.Target, dial Dialer, opt Options, transport string, list []hello, start <-chan struct{}, out chan<- attempt) {
	select {
	case <-start:
	case <-ctx.Done():
		return
	}
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, h := range list {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out <- runHello(ctx, t, dial, opt, transport, h)
		})
	}
}

// runHello sends one hello on its own connection and judges the answer.
func runHello(ctx context.Context, t ajar.Target, dial Dialer, opt Options, transport string, h hello) attempt {
	switch {
	case h.tls:
		state, err := handshake(ctx, dial, opt)
		if err != nil {
			return attempt{}
		}
		return attempt{tls: &state}
	case h.run != nil:
		s, ok := h.run(ctx, t, dial, opt)
		s.Transport = transport
		return attempt{svc: s, ok: ok}
	}
	c, err := dial(ctx)
	if err != nil {
		return attempt{}
	}
	defer c.Close()
	done := h.done
	if done == nil {
		done = complete
	}
	answer, _ := talk(ctx, c, h.payload, opt.StepTimeout, opt.MaxBanner, done)
	if len(answer) == 0 {
		return attempt{}
	}
	s, ok := h.match(answer)
	if !ok {
		return attempt{}
	}
	if s.Banner == "" {
		s.Banner = printable(answer, 160)
	}
	s.Transport = transport
	if h.startTLS != nil && transport == "tcp" {
		s.TLS = h.startTLS(ctx, c, answer, opt)
	}
	return attempt{svc: s, ok: true}
}

// ordered puts the hellos whose usual port is p first, keeping the rest in
// order of likelihood; the TLS hello only when withTLS.
func ordered(p uint16, withTLS bool) []hello {
	out := make([]hello, 0, len(hellos))
	for _, first := range []bool{true, false} {
		for _, h := range hellos {
			if h.tls && !withTLS {
				continue
			}
			if slices.Contains(h.ports, p) == first {
				out = append(out, h)
			}
		}
	}
	return out
}

// talk sends payload on c and reads until done says the answer is complete,
// the deadline passes, the context ends or max bytes arrived.
func talk(ctx context.Context, c net.Conn, payload []byte, wait time.Duration, max int, done func([]byte) bool) ([]byte, error) {
	_ = c.SetDeadline(stepDeadline(ctx, wait))
	// Identification stops the other exchanges once one is conclusive: a
	// deadline in the past ends a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
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
