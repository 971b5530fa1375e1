package identify

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatchMySQL(t *testing.T) {
	greeting := func(v string) []byte {
		body := append([]byte{0x0a}, v...)
		body = append(body, 0, 1, 0, 0, 0)
		return append([]byte{byte(len(body)), 0, 0, 0}, body...)
	}
	for _, tc := range []struct {
		name          string
		in            []byte
		ok            bool
		product, vers string
	}{
		{"mariadb", greeting("5.5.5-10.11.6-MariaDB-0+deb12u1"), true, "MariaDB", "10.11.6"},
		{"mysql8", greeting("8.0.36"), true, "MySQL", "8.0.36"},
		{"host blocked", append([]byte{0x30, 0, 0, 0, 0xff, 0x6a, 0x04}, "Host '1.2.3.4' is not allowed to connect"...), true, "", ""},
		{"no nul", []byte{5, 0, 0, 0, 0x0a, '8', '.', '0', '.'}, false, "", ""},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), false, "", ""},
		{"short", []byte{1, 0}, false, "", ""},
		{"bad seq", []byte{5, 0, 0, 1, 0x0a, '8', 0, 0, 0}, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := matchMySQL(tc.in)
			if ok != tc.ok || s.Product != tc.product || s.Version != tc.vers {
				t.Errorf("matchMySQL = %+v, %v; want ok=%v product=%q version=%q", s, ok, tc.ok, tc.product, tc.vers)
			}
			if ok && s.Protocol != "mysql" {
				t.Errorf("protocol = %q", s.Protocol)
			}
		})
	}
}

func TestMatchRedisAndPostgres(t *testing.T) {
	for _, tc := range []struct {
		in    string
		proto string
	}{
		{"+PONG\r\n", "redis"},
		{"-NOAUTH Authentication required.\r\n", "redis"},
		{"-DENIED Redis is running in protected mode\r\n", "redis"},
		{"-ERR unknown command\r\n", ""},
		{"S", "postgresql"},
		{"N", "postgresql"},
		{"X", ""},
	} {
		var s ajar.Service
		var ok bool
		if s, ok = matchRedis([]byte(tc.in)); !ok {
			s, ok = matchPostgresSSL([]byte(tc.in))
		}
		if s.Protocol != tc.proto || ok != (tc.proto != "") {
			t.Errorf("%q: got %q (%v), want %q", tc.in, s.Protocol, ok, tc.proto)
		}
	}
}

func FuzzMatchBanner(f *testing.F) {
	f.Add([]byte{0x30, 0, 0, 0, 0x0a, '8', 0})
	f.Add([]byte("+PONG\r\n"))
	f.Add([]byte{0xff, 0xff, 0xff, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		matchBanner(b)
		matchRedis(b)
		matchPostgresSSL(b)
		complete(b)
		if s := printable(b, 160); len(s) > 4*160 {
			t.Fatalf("printable too long: %d", len(s))
		}
	})
}

// hostile starts a server on 127.0.20.60 that runs serve on each
// connection; at the end of the test it closes them all and waits for
// every goroutine.
func hostile(t *testing.T, serve func(net.Conn)) ajar.Target {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.20.60:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				serve(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			})
		}
	})
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	return ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
}

// garbage is a deterministic stream of random bytes.
func garbage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x616a6172))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestHostileServersAreUnknownWithinTheTimeout: servers that say nothing,
// say too much, say it too slowly or say nonsense are reported unknown
// (empty protocol), each within the banner wait plus one step per hello
// (as if they ran one after another) plus a margin.
func TestHostileServersAreUnknownWithinTheTimeout(t *testing.T) {
	opt := Options{BannerWait: 200 * time.Millisecond, StepTimeout: 300 * time.Millisecond, MaxBanner: 4096}
	bound := opt.BannerWait + time.Duration(len(hellos)+1)*opt.StepTimeout + 500*time.Millisecond
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
	}{
		// Accepts, reads whatever comes and never answers.
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }},
		// Trickles a byte at a time, never a whole line, for ever.
		{"tarpit", func(c net.Conn) {
			for {
				if _, err := c.Write([]byte{'z'}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
		{"endless", func(c net.Conn) {
			junk := bytes.Repeat([]byte{'z'}, 64<<10)
			for {
				if _, err := c.Write(junk); err != nil {
					return
				}
			}
		}},
		// Speaks first: random bytes, then listens.
		{"garbage first", func(c net.Conn) {
			if _, err := c.Write(garbage(1, 512)); err == nil {
				_, _ = io.Copy(io.Discard, c)
			}
		}},
		// Answers whatever it is sent with random bytes.
		{"garbage answers", func(c net.Conn) {
			buf := make([]byte, 4096)
			for i := uint64(2); ; i++ {
				if _, err := c.Read(buf); err != nil {
					return
				}
				if _, err := c.Write(garbage(i, 256)); err != nil {
					return
				}
			}
		}},
		// Silent until asked, then trickles an answer for ever.
		{"slow answers", func(c net.Conn) {
			if _, err := c.Read(make([]byte, 4096)); err != nil {
				return
			}
			for {
				if _, err := c.Write([]byte{'z'}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
		{"silent close", func(c net.Conn) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := hostile(t, tc.serve)
			d := &probe.TargetDialer{Target: target, Timeout: time.Second}
			start := time.Now()
			svc, _ := Identify(context.Background(), target, d.Dial, opt)
			if took := time.Since(start); took > bound {
				t.Errorf("took %s, bound %s", took, bound)
			}
			if svc.Protocol != "" {
				t.Errorf("identified %q on a hostile server", svc.Protocol)
			}
			if len(svc.Banner) > 4*160 {
				t.Errorf("banner of %d bytes kept", len(svc.Banner))
			}
		})
	}
}

// TestLab identifies the lab's real servers, open and secured.
func TestLab(t *testing.T) {
	lab.Require(t)
	for _, tc := range []struct {
		addr, proto, product string
	}{
		{lab.RedisOpen, "redis", "Redis"},
		{lab.RedisSecured, "redis", "Redis"},
		{lab.MySQLOpen, "mysql", "MariaDB"},
		{lab.MySQLSecured, "mysql", "MariaDB"},
		{lab.PGOpen, "postgresql", "PostgreSQL"},
		{lab.PGSecured, "postgresql", "PostgreSQL"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tc.addr)
			target := ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
			d := &probe.TargetDialer{Target: target, Timeout: time.Second}
			svc, err := Identify(context.Background(), target, d.Dial, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if svc.Protocol != tc.proto || svc.Product != tc.product {
				t.Errorf("got %s/%s, want %s/%s", svc.Protocol, svc.Product, tc.proto, tc.product)
			}
		})
	}
}
