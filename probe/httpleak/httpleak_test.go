package httpleak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
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
// address dialled and the request lines the probe sends.
type recorder struct {
	mu       sync.Mutex
	dialed   []string
	requests []string
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
	if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p))); err == nil {
		c.r.mu.Lock()
		c.r.requests = append(c.r.requests, req.Method+" "+req.URL.RequestURI())
		c.r.mu.Unlock()
	}
	return c.Conn.Write(p)
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, error, *recorder) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "http", HTTP: &ajar.HTTP{}}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("http-leak")
	if !ok {
		t.Fatal(`no prober registered as "http-leak"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, err, rec
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("http-leak")
	if !ok {
		t.Fatal(`no prober registered as "http-leak"`)
	}
	if !slices.Equal(p.Protocols(), []string{"http"}) {
		t.Fatalf("protocols %v", p.Protocols())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.NginxOpen)
	res, err, rec := run(t, lab.NginxOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	for _, d := range res.Exposure.Datasets {
		t.Logf("%+v", d)
	}
	for _, s := range res.Exposure.Samples {
		t.Logf("%+v", s)
	}
	t.Logf("%q", rec.requests)
	t.Logf("%+v", res.Exposure.Evidence)
}

func TestOthers(t *testing.T) {
	for _, a := range []string{lab.NginxSecured, lab.RegistryOpen, lab.PrometheusOpen, lab.PrometheusSecured, lab.RegistrySecured} {
		res, err, rec := run(t, a, 10*time.Second)
		t.Logf("%s: %+v %v %q", a, res, err, rec.requests)
	}
	_ = errors.Is
	_ = io.EOF
	_ = runtime.GC
	_ = strconv.Itoa
	_ = strings.Cut
	_ = atomic.Int32{}
}
