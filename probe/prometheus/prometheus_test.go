package prometheus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
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

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "prometheus"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("prometheus")
	if !ok {
		t.Fatal(`no prober registered as "prometheus"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("prometheus")
	if !ok {
		t.Fatal(`no prober registered as "prometheus"`)
	}
	if !slices.Equal(p.Protocols(), []string{"prometheus"}) || !slices.Equal(p.DefaultPorts(), []uint16{9090}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

// metricCount asks the lab server itself how many metric names it has.
func metricCount(t *testing.T, addr string) int64 {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + addr + namesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Data []string }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return int64(len(doc.Data))
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.PrometheusOpen)
	res, rec, err := run(t, lab.PrometheusOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "Prometheus" || !strings.HasPrefix(res.Version, "2.") {
		t.Errorf("product %q version %q", res.Product, res.Version)
	}
	exp := res.Exposure
	jobs := lab.PrometheusJobs(lab.PrometheusOpen)
	got := map[string]ajar.Dataset{}
	for _, d := range exp.Datasets {
		got[d.Name] = d
	}
	if len(exp.Datasets) != len(jobs)+1 {
		t.Errorf("datasets %+v, want one per job and metrics", exp.Datasets)
	}
	var records int64
	for _, j := range jobs {
		d := got[j.Name]
		fields := []string{"instance", "job"}
		for k := range j.Targets[0].Labels {
			if !slices.Contains(fields, k) {
				fields = append(fields, k)
			}
		}
		slices.Sort(fields)
		if d.Records != int64(len(j.Targets)) || !slices.Equal(d.Fields, fields) {
			t.Errorf("job %s: %+v, want %d targets and fields %v", j.Name, d, len(j.Targets), fields)
		}
		records += d.Records
	}
	// The metric names grow as the server scrapes itself: compare with
	// what it says after the probe, allowing for newcomers.
	m := got[metricsDataset]
	if n := metricCount(t, lab.PrometheusOpen); m.Records < 100 || m.Records > n {
		t.Errorf("metrics dataset %+v, server has %d names", m, n)
	}
	if exp.Records != records+m.Records {
		t.Errorf("records %d, want %d", exp.Records, records+m.Records)
	}
	var instances []string
	for _, s := range exp.Samples {
		instances = append(instances, s.Doc["instance"])
	}
	if !slices.Contains(instances, "db-prod-07.internal.corp:9100") || !slices.Contains(instances, "cache-prod-01.internal.corp:9121") {
		t.Errorf("sampled instances %v", instances)
	}
	if ev := exp.Evidence; ev == nil || ev.Request != "GET "+targetsPath || len(ev.Response) > evidenceMax {
		t.Errorf("evidence %+v", ev)
	}
	want := []string{"GET " + buildInfoPath, "GET " + targetsPath, "GET " + namesPath}
	if !slices.Equal(rec.requests, want) {
		t.Errorf("requests %q, want %q", rec.requests, want)
	}
	for _, a := range rec.dialed {
		if a != lab.PrometheusOpen {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.PrometheusSecured)
	res, rec, err := run(t, lab.PrometheusSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("result %+v, want protected", res)
	}
	if res.Detail != "GET "+buildInfoPath+": HTTP 401" || len(rec.requests) != 1 {
		t.Errorf("detail %q, requests %q", res.Detail, rec.requests)
	}
}

// server is a scripted HTTP server on the test's own address.
func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.40:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestNothingElseDialled: a server that redirects every request to another
// host, and names that host in its targets, gets only its own connections.
func TestNothingElseDialled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hits atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	other := "http://" + ln.Addr().String()
	addr := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/targets":
			w.Write([]byte(`{"status":"success","data":{"activeTargets":[{"labels":{"job":"node","instance":"` +
				ln.Addr().String() + `"},"scrapePool":"node","scrapeUrl":"` + other + `/metrics"}]}}`))
		default:
			http.Redirect(w, r, other+r.URL.Path, http.StatusFound)
		}
	})
	res, rec, err := run(t, addr, 5*time.Second)
	if !errors.Is(err, httpc.ErrRedirect) {
		t.Errorf("error %v, want a refused redirect", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure.Records != 1 {
		t.Errorf("result %+v", res)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host was dialled %d times", n)
	}
	for _, a := range rec.dialed {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestScripted(t *testing.T) {
	targets := `{"status":"success","data":{"activeTargets":[` +
		`{"labels":{"job":"metrics","instance":"a:1"},"scrapePool":"metrics"},` +
		`{"labels":{"instance":"b:1"},"scrapePool":"pool-only"}]}}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  ajar.Status
		sets    []string
	}{
		{"before buildinfo, a job called metrics", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/api/v1/targets":
				w.Write([]byte(targets))
			case "/api/v1/label/__name__/values":
				w.Write([]byte(`{"status":"success","data":["up","go_goroutines"]}`))
			default:
				http.NotFound(w, r)
			}
		}, ajar.StatusExposed, []string{"job:metrics", "pool-only", "metrics"}},
		{"targets refused", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/targets" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			w.Write([]byte(`{"status":"success","data":{"version":"2.0.0"}}`))
		}, ajar.StatusProtected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := run(t, server(t, tt.handler), 5*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != tt.status {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			var sets []string
			if res.Exposure != nil {
				for _, d := range res.Exposure.Datasets {
					sets = append(sets, d.Name)
				}
			}
			if !slices.Equal(sets, tt.sets) {
				t.Errorf("datasets %v, want %v", sets, tt.sets)
			}
		})
	}
}

// hostile serves every connection the same bytes: prefix, then fill
// forever (every: one write per tick), or silence.
type hostile struct {
	name   string
	prefix string
	fill   []byte
	every  time.Duration
}

func (h hostile) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.40:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
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
				go func() { <-stop; c.Close() }()
				// Answer once the request is in, as an HTTP server does.
				rd := bufio.NewReader(c)
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				go io.Copy(io.Discard, rd)
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
		}
	}()
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	ok := "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\r\n\r\n"}, nil},
		{hostile{name: "endless body", prefix: ok + "\r\n", fill: bytes.Repeat([]byte("["), 4096)}, httpc.ErrTooLarge},
		{hostile{name: "absurd length", prefix: ok + "Content-Length: 99999999999\r\n\r\n{"}, httpc.ErrTooLarge},
		{hostile{name: "trickle", prefix: ok + "Content-Length: 100\r\n\r\n", fill: []byte("{"), every: 50 * time.Millisecond}, context.DeadlineExceeded},
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
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 6*maxBody {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
