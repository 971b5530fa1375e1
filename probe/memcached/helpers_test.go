package memcached

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
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
	d.mu.Lock()
	d.dials = append(d.dials, d.Target.String())
	d.mu.Unlock()
	c, err := d.TargetDialer.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, d: d}, nil
}

func (d *tapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	if !d.any {
		return d.TargetDialer.DialAddr(ctx, network, addr)
	}
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// commands are the command lines the probe sent.
func (d *tapDialer) commands() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(d.sent.Bytes()))
	for sc.Scan() {
		out = append(out, strings.TrimSuffix(sc.Text(), "\r"))
	}
	return out
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
	p, ok := probe.Get("memcached")
	if !ok {
		t.Fatal(`no prober registered as "memcached"`)
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

// script answers each command line the client sends with the next answer
// of answers (nil: stay silent), then holds the connection.
func script(answers ...[]byte) func(net.Conn) {
	return func(c net.Conn) {
		rd := bufio.NewReader(c)
		for _, a := range answers {
			if _, err := rd.ReadString('\n'); err != nil {
				return
			}
			if a == nil {
				break
			}
			if _, err := c.Write(a); err != nil {
				return
			}
		}
		_, _ = rd.WriteTo(discard{})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// firstThen serves the first connection with first and every later one with
// rest.
func firstThen(first, rest func(net.Conn)) func(net.Conn) {
	var once sync.Once
	return func(c net.Conn) {
		h := rest
		once.Do(func() { h = first })
		h(c)
	}
}
