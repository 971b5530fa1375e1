package identify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// answerOnly serves a server that answers one request (compared whole) and
// stays silent on anything else, as servers do when a greeting of another
// protocol leaves them waiting for the rest of a frame.
func answerOnly(request, answer []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		n, err := io.ReadAtLeast(c, buf, len(request))
		if err != nil || !bytes.Equal(buf[:n], request) {
			_, _ = io.Copy(io.Discard, c)
			return
		}
		if _, err := c.Write(answer); err == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	}
}

// mongoReply is an OP_REPLY to mongoIsMaster holding {maxWireVersion: 13}.
func mongoReply() []byte {
	doc := []byte{25, 0, 0, 0, 0x10}
	doc = append(doc, "maxWireVersion\x00"...)
	doc = append(doc, 13, 0, 0, 0, 0)
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)          // requestID
	b = binary.LittleEndian.AppendUint32(b, 0x616a6172) // responseTo: ours
	b = binary.LittleEndian.AppendUint32(b, 1)          // OP_REPLY
	b = binary.LittleEndian.AppendUint32(b, 0)          // flags
	b = binary.LittleEndian.AppendUint64(b, 0)          // cursorID
	b = binary.LittleEndian.AppendUint32(b, 0)          // startingFrom
	b = binary.LittleEndian.AppendUint32(b, 1)          // numberReturned
	b = append(b, doc...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// countingDialer dials the target and keeps the most connections that were
// open at once.
type countingDialer struct {
	d         *probe.TargetDialer
	open, max atomic.Int64
}

func (cd *countingDialer) dial(ctx context.Context) (net.Conn, error) {
	c, err := cd.d.Dial(ctx)
	if err != nil {
		return nil, err
	}
	n := cd.open.Add(1)
	for {
		m := cd.max.Load()
		if n <= m || cd.max.CompareAndSwap(m, n) {
			break
		}
	}
	return &countedConn{Conn: c, open: &cd.open}, nil
}

type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

func identifyHostile(t *testing.T, serve func(net.Conn), opt Options) (ajar.Service, time.Duration, *countingDialer) {
	t.Helper()
	target := hostile(t, serve)
	cd := &countingDialer{d: &probe.TargetDialer{Target: target, Timeout: time.Second}}
	start := time.Now()
	svc, err := Identify(context.Background(), target, cd.dial, opt)
	if err != nil {
		t.Fatal(err)
	}
	return svc, time.Since(start), cd
}

// TestHelloAnswerEndsBannerWait: a server that does not speak first but
// answers PING is identified before the banner wait would have ended.
func TestHelloAnswerEndsBannerWait(t *testing.T) {
	opt := DefaultOptions()
	opt.BannerWait, opt.StepTimeout = 5*time.Second, 5*time.Second
	svc, took, _ := identifyHostile(t, answerOnly([]byte("*1\r\n$4\r\nPING\r\n"), []byte("+PONG\r\n")), opt)
	if svc.Protocol != "redis" {
		t.Fatalf("identified %+v", svc)
	}
	if took >= opt.BannerWait {
		t.Errorf("took %s: the banner wait (%s) was not cut short", took, opt.BannerWait)
	}
}

// TestSilentHellosDoNotHoldTheRest: the four hellos before MongoDB's find
// a server that stays silent; run one after another they would cost four
// step timeouts, run beside each other one.
func TestSilentHellosDoNotHoldTheRest(t *testing.T) {
	opt := DefaultOptions()
	opt.StepTimeout = time.Second
	if i := indexOf(ordered(1, true), "mongodb"); i != 4 {
		t.Fatalf("mongodb is hello %d; the test assumes 4", i)
	}
	svc, took, _ := identifyHostile(t, answerOnly(mongoIsMaster(), mongoReply()), opt)
	if svc.Protocol != "mongodb" {
		t.Fatalf("identified %+v", svc)
	}
	if bound := 2 * opt.StepTimeout; took >= bound {
		t.Errorf("took %s, more than %s", took, bound)
	}
}

// TestOneHelloAtATime: Parallel 1 sends the hellos one after another and
// still finds the protocol.
func TestOneHelloAtATime(t *testing.T) {
	opt := Options{BannerWait: 200 * time.Millisecond, StepTimeout: 300 * time.Millisecond, Parallel: 1}
	svc, _, cd := identifyHostile(t, answerOnly(mongoIsMaster(), mongoReply()), opt)
	if svc.Protocol != "mongodb" || svc.Product != "MongoDB" {
		t.Fatalf("identified %+v", svc)
	}
	if m := cd.max.Load(); m > 2 {
		t.Errorf("%d connections at once, want at most the banner's and one hello's", m)
	}
}

// TestParallelIsBounded: on a silent server, never more connections at
// once than the hellos allowed plus the banner's, and no connection left
// open.
func TestParallelIsBounded(t *testing.T) {
	for _, parallel := range []int{2, 4} {
		opt := Options{BannerWait: 300 * time.Millisecond, StepTimeout: 300 * time.Millisecond, Parallel: parallel}
		svc, _, cd := identifyHostile(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, opt)
		if svc.Protocol != "" {
			t.Errorf("identified %q on a silent server", svc.Protocol)
		}
		if m := cd.max.Load(); m > int64(parallel)+1 || m < 2 {
			t.Errorf("parallel %d: %d connections at once", parallel, m)
		}
		if n := cd.open.Load(); n != 0 {
			t.Errorf("parallel %d: %d connections left open", parallel, n)
		}
	}
}

// TestHTTPSIsNotPlainHTTP: an HTTPS server answers a request in clear with
// 400 "Client sent an HTTP request to an HTTPS server"; that is TLS, and
// HTTP inside it.
func TestHTTPSIsNotPlainHTTP(t *testing.T) {
	cert := newCert(t, "matrix.ajar.test", nil)
	l, err := net.Listen("tcp", "127.0.20.60:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<html><title>records office</title></html>")
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		// The hellos of other protocols fail their handshakes by design.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { srv.Close(); <-done })
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	svc := identifyAt(t, ap)
	if svc.Transport != "tls" || svc.Protocol != "http" || svc.HTTP == nil || svc.HTTP.Title != "records office" {
		t.Fatalf("identified %+v (http %+v)", svc, svc.HTTP)
	}
	checkCert(t, svc.TLS, cert)
}

func indexOf(hs []hello, protocol string) int {
	for i, h := range hs {
		if h.protocol == protocol {
			return i
		}
	}
	return -1
}
