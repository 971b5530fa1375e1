package ftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// recorder is the engine's dialer with a network function that notes every
// address dialled and every command line the probe writes on a control
// connection.
type recorder struct {
	mu     sync.Mutex
	dialed []string
	sent   []string
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.dialed = append(r.dialed, addr)
	r.mu.Unlock()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, r: r}, nil
}

type tapConn struct {
	net.Conn
	r *recorder
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.r.mu.Lock()
	c.r.sent = append(c.r.sent, strings.Split(strings.TrimRight(string(p), "\r\n"), "\r\n")...)
	c.r.mu.Unlock()
	return c.Conn.Write(p)
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "ftp"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("ftp")
	if !ok {
		t.Fatal(`no prober registered as "ftp"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("ftp")
	if !ok {
		t.Fatal(`no prober registered as "ftp"`)
	}
	if !slices.Equal(p.Protocols(), []string{"ftp"}) || !slices.Equal(p.DefaultPorts(), []uint16{21}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.FTPOpen)
	res, rec, err := run(t, lab.FTPOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q, detail %q; want exposed", res.Status, res.Detail)
	}
	if res.Product != "vsFTPd" || res.Version == "" {
		t.Errorf("product %q version %q, want vsFTPd and a version", res.Product, res.Version)
	}
	exp := res.Exposure
	want := lab.TreeStats(lab.FTPTree())
	var names []string
	for _, d := range exp.Datasets {
		names = append(names, d.Name)
		key := strings.TrimPrefix(d.Name, "/")
		w, ok := want[key]
		if !ok || d.Records != w[0] || d.Bytes != w[1] || d.Estimated {
			t.Errorf("dataset %s: %d files %d bytes (estimated %v), want %d files %d bytes", d.Name, d.Records, d.Bytes, d.Estimated, w[0], w[1])
		}
	}
	if !slices.Equal(names, []string{"/", "/backup", "/pub"}) {
		t.Errorf("datasets %v, want /, /backup and /pub", names)
	}
	var files, bytes int64
	for _, w := range want {
		files += w[0]
		bytes += w[1]
	}
	if exp.Records != files || exp.Bytes != bytes {
		t.Errorf("totals %d files %d bytes, want %d and %d", exp.Records, exp.Bytes, files, bytes)
	}
	perSet := map[string]int{}
	for _, s := range exp.Samples {
		perSet[s.Dataset]++
		if !strings.HasPrefix(s.Doc["path"], "/") || s.Doc["size"] == "" {
			t.Errorf("sample %+v", s)
		}
	}
	if perSet["/backup"] != 3 || perSet["/pub"] != 2 || perSet["/"] != 1 {
		t.Errorf("samples per dataset %v", perSet)
	}
	ev := exp.Evidence
	if ev == nil || ev.Request != "LIST /" || len(ev.Response) > evidenceMax || !strings.Contains(ev.Response, "backup") {
		t.Errorf("evidence %+v", ev)
	}
	// Every connection went to the target's address, the data connections
	// to its passive ports.
	host := strings.Split(lab.FTPOpen, ":")[0]
	for _, a := range rec.dialed {
		if !strings.HasPrefix(a, host+":") {
			t.Errorf("dialled %s", a)
		}
	}
	if len(rec.dialed) != 1+4 {
		t.Errorf("dialled %d times, want the control connection and one per directory (4): %v", len(rec.dialed), rec.dialed)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.FTPSecured)
	res, _, err := run(t, lab.FTPSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("status %q exposure %+v, want protected", res.Status, res.Exposure)
	}
	if !strings.HasPrefix(res.Detail, "530") {
		t.Errorf("detail %q, want the server's 530", res.Detail)
	}
}

// TestProbeReadOnly checks every command the probe sends to a real server
// against the read-only list.
func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.FTPOpen)
	_, rec, err := run(t, lab.FTPOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	allowed := []string{"USER", "PASS", "PWD", "EPSV", "PASV", "LIST", "QUIT"}
	for _, line := range rec.sent {
		verb, _, _ := strings.Cut(line, " ")
		if !slices.Contains(allowed, verb) {
			t.Errorf("sent %q, which is not on the read-only list", line)
		}
	}
	if !slices.Contains(rec.sent, "USER anonymous") || !slices.Contains(rec.sent, "PASS "+anonymousPassword) {
		t.Errorf("sent %q", rec.sent)
	}
}

// script is a scripted FTP server: it greets, answers each command with
// the function's reply, and serves data connections from a listener of
// its own.
type script struct {
	greeting string
	answer   func(cmd string, s *ctrlConn) string
}

// ctrlConn is one control connection of a scripted server.
type ctrlConn struct {
	c    net.Conn
	data net.Listener // the passive listener, on the server's own address
}

func (sc script) serve(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s := &ctrlConn{c: c}
				defer func() {
					if s.data != nil {
						s.data.Close()
					}
				}()
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					select {
					case <-stop:
					case <-t.Context().Done():
					}
					c.Close()
				}()
				if _, err := io.WriteString(c, sc.greeting); err != nil {
					return
				}
				rd := bufio.NewReader(c)
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					out := sc.answer(strings.TrimRight(line, "\r\n"), s)
					if out == "" {
						<-stop
						return
					}
					if _, err := io.WriteString(c, out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// login answers a control connection up to the listing the way vsFTPd does.
func login(cmd string) (string, bool) {
	switch {
	case cmd == "USER anonymous":
		return "331 Please specify the password.\r\n", true
	case strings.HasPrefix(cmd, "PASS "):
		return "230 Login successful.\r\n", true
	case cmd == "PWD":
		return "257 \"/\" is the current directory\r\n", true
	case cmd == "QUIT":
		return "221 Goodbye.\r\n", true
	}
	return "", false
}

// TestPassiveElsewhere: a server that names another host in its PASV reply
// gets its data connection on its own address; the other host is never
// dialled.
func TestPassiveElsewhere(t *testing.T) {
	// The third party: a listener that counts connections.
	third, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	var thirdHits atomic.Int32
	go func() {
		for {
			c, err := third.Accept()
			if err != nil {
				return
			}
			thirdHits.Add(1)
			c.Close()
		}
	}()
	_, thirdPort, _ := net.SplitHostPort(third.Addr().String())
	port, _ := strconv.Atoi(thirdPort)

	sc := script{greeting: "220 (vsFTPd 3.0.3)\r\n", answer: func(cmd string, s *ctrlConn) string {
		if out, ok := login(cmd); ok {
			return out
		}
		switch {
		case cmd == "EPSV":
			return "500 Unknown command.\r\n"
		case cmd == "PASV":
			// The same port number on the server's own address, so that
			// a probe that obeys the reply would reach the third party.
			ln, err := net.Listen("tcp", strings.Split(s.c.LocalAddr().String(), ":")[0]+":"+thirdPort)
			if err != nil {
				return "425 Cannot open passive port.\r\n"
			}
			s.data = ln
			return fmt.Sprintf("227 Entering Passive Mode (127,0,20,99,%d,%d).\r\n", port>>8, port&0xff)
		case strings.HasPrefix(cmd, "LIST"):
			if s.data == nil {
				return "425 Use PASV first.\r\n"
			}
			dc, err := s.data.Accept()
			if err != nil {
				return "425 No data connection.\r\n"
			}
			s.data.Close()
			s.data = nil
			if _, err := io.WriteString(s.c, "150 Here comes the directory listing.\r\n"); err != nil {
				return ""
			}
			if cmd == "LIST /" {
				io.WriteString(dc, "-rw-r--r--    1 0        0            1234 Nov 25  2022 persons.csv\r\n")
			}
			dc.Close()
			return "226 Directory send OK.\r\n"
		}
		return "502 Command not implemented.\r\n"
	}}
	addr := sc.serve(t, "127.0.20.10")
	res, rec, err := run(t, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure.Records != 1 || res.Exposure.Bytes != 1234 {
		t.Fatalf("result %+v exposure %+v, want one file of 1234 bytes", res, res.Exposure)
	}
	if n := thirdHits.Load(); n != 0 {
		t.Errorf("the address named by PASV was dialled %d times", n)
	}
	for _, a := range rec.dialed {
		if !strings.HasPrefix(a, "127.0.20.10:") {
			t.Errorf("dialled %s", a)
		}
	}
}

// TestEngineDialerCopy: the engine's dialer refuses other ports by address;
// the data connection goes through a copy of it with the passive port.
func TestDataDialer(t *testing.T) {
	at := ajar.Target{Addr: mustAddr(t, "127.0.20.10"), Port: 21}
	// A dialer that is neither the engine's nor a PortDialer cannot reach
	// the passive port.
	tg := &probe.Target{Target: at, Dialer: plainDialer{}}
	if _, err := dialData(context.Background(), tg, 30000); !errors.Is(err, ErrNoDataPort) {
		t.Errorf("dialData with a plain dialer: %v, want ErrNoDataPort", err)
	}
}

type plainDialer struct{}

func (plainDialer) Dial(context.Context) (net.Conn, error) { return nil, errors.New("no") }
func (plainDialer) DialAddr(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no")
}

// hostile serves one connection: it writes prefix, then fill forever (or,
// when every is set, one fill byte each time it ticks), or nothing at all.
type hostile struct {
	name   string
	prefix string
	fill   []byte
	every  time.Duration
}

func (h hostile) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.10:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go io.Copy(io.Discard, c)
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop); c.Close() })
		if _, err := io.WriteString(c, h.prefix); err != nil {
			return
		}
		if h.fill == nil {
			<-stop
			return
		}
		for {
			if h.every > 0 {
				select {
				case <-stop:
					return
				case <-time.After(h.every):
				}
			}
			if _, err := c.Write(h.fill); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "endless line", prefix: "220 ", fill: []byte(strings.Repeat("A", 4096))}, ErrLimit},
		{hostile{name: "endless multi-line reply", prefix: "220-hello\r\n", fill: []byte("220-more\r\n")}, ErrLimit},
		{hostile{name: "trickle", prefix: "220", fill: []byte("-"), every: 50 * time.Millisecond}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\r\n"}, ErrProtocol},
		{hostile{name: "HTTP server", prefix: "HTTP/1.1 400 Bad Request\r\n\r\n"}, ErrProtocol},
		{hostile{name: "silent after greeting", prefix: "220 ready\r\n"}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, addr, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res != nil && res.Status != ajar.StatusOpen {
				t.Errorf("result %+v, want open or none", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestEndlessListing: a listing that never ends is read up to its cap; the
// exposure is kept and marked estimated.
func TestEndlessListing(t *testing.T) {
	line := "-rw-r--r--    1 0        0            1000 Nov 25  2022 f.csv\r\n"
	sc := script{greeting: "220 ready\r\n", answer: func(cmd string, s *ctrlConn) string {
		if out, ok := login(cmd); ok {
			return out
		}
		switch {
		case cmd == "EPSV":
			ln, err := net.Listen("tcp", strings.Split(s.c.LocalAddr().String(), ":")[0]+":0")
			if err != nil {
				return "425 Cannot open passive port.\r\n"
			}
			s.data = ln
			_, p, _ := net.SplitHostPort(ln.Addr().String())
			return "229 Entering Extended Passive Mode (|||" + p + "|)\r\n"
		case strings.HasPrefix(cmd, "LIST"):
			dc, err := s.data.Accept()
			if err != nil {
				return "425 No data connection.\r\n"
			}
			io.WriteString(s.c, "150 Here it comes.\r\n")
			buf := []byte(strings.Repeat(line, 100))
			for {
				if _, err := dc.Write(buf); err != nil {
					break
				}
			}
			dc.Close()
			return "426 Connection closed; transfer aborted.\r\n"
		}
		return "502 No.\r\n"
	}}
	addr := sc.serve(t, "127.0.20.10")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, _, err := run(t, addr, 5*time.Second)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	exp := res.Exposure
	if res.Status != ajar.StatusExposed || len(exp.Datasets) != 1 || !exp.Datasets[0].Estimated ||
		exp.Records != maxEntries || exp.Bytes != maxEntries*1000 {
		t.Fatalf("result %+v datasets %+v, want %d files, estimated", res, exp.Datasets, maxEntries)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 12*maxListing {
		t.Errorf("allocated %d bytes", got)
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.FTPOpen)
	at, _ := ajar.ParseAddrPort(lab.FTPOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("ftp")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}
