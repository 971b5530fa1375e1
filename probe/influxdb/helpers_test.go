package influxdb

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// tapDialer dials like the engine and keeps every byte the probe sends and
// every address it dials.
type tapDialer struct {
	probe.TargetDialer
	// any lets DialAddr reach any address, so that a test can see where a
	// probe would go if nothing stopped it.
	any   bool
	mu    sync.Mutex
	sent  bytes.Buffer
	dials []string
}

func (d *tapDialer) Dial(ctx context.Context) (net.Conn, error) {
	return d.DialAddr(ctx, "tcp", d.Target.String())
}

func (d *tapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	d.mu.Unlock()
	var c net.Conn
	var err error
	if d.any {
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

// requests are the HTTP requests the probe sent.
func (d *tapDialer) requests(t *testing.T) []*http.Request {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*http.Request
	rd := bufio.NewReader(bytes.NewReader(d.sent.Bytes()))
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
	d *tapDialer
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.d.sent.Write(p)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

// run probes addr; anyAddr lets the dialer reach any address.
func run(t *testing.T, addr string, timeout time.Duration, anyAddr ...bool) (*probe.Result, *tapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}, any: len(anyAddr) > 0 && anyAddr[0]}
	tg := &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("influxdb")
	if !ok {
		t.Fatal(`no prober registered as "influxdb"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

// serve runs handle on every connection to a new listener on addr (port 0
// for any) and returns its address and how many connections it accepted.
func serve(t *testing.T, addr string, handle func(net.Conn)) (string, func() int) {
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

// serveHTTP serves h on a new listener on addr.
func serveHTTP(t *testing.T, addr string, h http.Handler) string {
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
