// Package hostile runs misbehaving HTTP servers on loopback for the tests of
// the HTTP probes: each costs a probe one timeout, never memory.
package hostile

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Behaviour is how a hostile server treats each connection.
type Behaviour struct {
	Name   string
	handle func(c net.Conn, stop <-chan struct{})
}

// The behaviours every HTTP probe is tested against.
var (
	// Tarpit reads the request and never answers.
	Tarpit = Behaviour{"tarpit", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		<-stop
	}}
	// TrickleHeaders sends a status line and then one header byte at a time.
	TrickleHeaders = Behaviour{"trickle headers", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		if !write(c, "HTTP/1.1 200 OK\r\nX-Slow: ") {
			return
		}
		for tick(stop, 50*time.Millisecond) && write(c, "a") {
		}
	}}
	// EndlessHeaders sends header lines forever.
	EndlessHeaders = Behaviour{"endless headers", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		if !write(c, "HTTP/1.1 200 OK\r\n") {
			return
		}
		line := "X-Filler: " + strings.Repeat("A", 1000) + "\r\n"
		for open(stop) && write(c, line) {
		}
	}}
	// EndlessBody answers 200 with a JSON array that never ends.
	EndlessBody = Behaviour{"endless body", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		if !write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[") {
			return
		}
		chunk := strings.Repeat(`{"index":"a","docs.count":"1","pri.store.size":"1"},`, 1000)
		for open(stop) && write(c, chunk) {
		}
	}}
	// HugeContentLength announces a terabyte and sends a byte now and then.
	HugeContentLength = Behaviour{"huge Content-Length", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		if !write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n{") {
			return
		}
		for tick(stop, 50*time.Millisecond) && write(c, " ") {
		}
	}}
	// RedirectElsewhere answers every request with a 302 to another host.
	RedirectElsewhere = Behaviour{"302 to another host", func(c net.Conn, stop <-chan struct{}) {
		for readRequest(c) {
			if !write(c, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9200/\r\nContent-Length: 0\r\n\r\n") {
				return
			}
		}
	}}
	// NotHTTP answers with binary garbage and closes.
	NotHTTP = Behaviour{"not HTTP", func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		write(c, "\x00\x01\x02\x03\xff\xfe garbage\r\n\r\n")
	}}
)

// All lists the behaviours.
var All = []Behaviour{Tarpit, TrickleHeaders, EndlessHeaders, EndlessBody, HugeContentLength, RedirectElsewhere, NotHTTP}

// Serve runs b on a new listener at addr (an address of 127.0.2x.x with port
// 0) until the test ends, and returns the address it listens on.
func Serve(t testing.TB, addr string, b Behaviour) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
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
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b.handle(c, stop)
			}()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one request with its body, and reports whether it could.
func readRequest(c net.Conn) bool {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
	return true
}

func write(c net.Conn, s string) bool {
	_, err := io.WriteString(c, s)
	return err == nil
}

// open reports whether the test still runs.
func open(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	default:
		return true
	}
}

// tick waits d and reports whether the test still runs.
func tick(stop <-chan struct{}, d time.Duration) bool {
	select {
	case <-stop:
		return false
	case <-time.After(d):
		return true
	}
}
