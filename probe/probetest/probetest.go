// Package probetest helps the tests of probe packages: a dialer that keeps
// what a probe sends and where it dials, and loopback servers that script
// what a hostile or misleading server answers.
package probetest

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// TapDialer dials like the engine and keeps every byte the probe sends and
// every address it dials.
type TapDialer struct {
	probe.TargetDialer
	// Any lets DialAddr reach any address, so that a test can see where a
	// probe would go if nothing stopped it.
	Any   bool
	mu    sync.Mutex
	sent  bytes.Buffer
	dials []string
}

var _ probe.Dialer = (*TapDialer)(nil)

// Dial connects to the target.
func (d *TapDialer) Dial(ctx context.Context) (net.Conn, error) {
	return d.DialAddr(ctx, "tcp", d.Target.String())
}

// DialAddr records addr and dials it (through the target-only dialer unless Any).
func (d *TapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	d.mu.Unlock()
	var c net.Conn
	var err error
	if d.Any {
		var nd net.Dialer
		c, err = nd.DialContext(ctx, network, addr)
	} else {
		c, err = d.TargetDialer.DialAddr(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, d: d}, nil
}

// Dials are the addresses the probe dialled, in order.
func (d *TapDialer) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.dials)
}

// Sent is every byte the probe wrote, all connections together.
func (d *TapDialer) Sent() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.sent.Bytes())
}

// Requests parses what the probe sent as HTTP requests.
func (d *TapDialer) Requests(t testing.TB) []*http.Request {
	t.Helper()
	var out []*http.Request
	rd := bufio.NewReader(bytes.NewReader(d.Sent()))
	for {
		r, err := http.ReadRequest(rd)
		if err != nil {
			return out
		}
		out = append(out, r)
	}
}

type tapConn struct {
	net.Conn
	d *TapDialer
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.d.sent.Write(p)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

// Run probes addr with the registered prober name; anyAddr lets the dialer
// reach any address.
func Run(t testing.TB, name, addr string, timeout time.Duration, anyAddr bool) (*probe.Result, *TapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &TapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}, Any: anyAddr}
	tg := &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get(name)
	if !ok {
		t.Fatalf("no prober registered as %q", name)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

// Serve runs handle on every connection to a new listener on addr (port 0
// for any) and returns its address and how many connections it accepted.
func Serve(t testing.TB, addr string, handle func(net.Conn)) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		conns    []net.Conn
		accepted int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			accepted++
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

// ServeHTTP serves h on a new listener on addr.
func ServeHTTP(t testing.TB, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}
