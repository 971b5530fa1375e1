package registry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
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

// apiVersion is the header every answer of a v2 registry carries
// (https://distribution.github.io/distribution/spec/api/#api-version-check).
const apiVersion = "Docker-Distribution-Api-Version"

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

func run(t *testing.T, p *Prober, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "docker-registry"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("docker-registry")
	if !ok {
		t.Fatal(`no prober registered as "docker-registry"`)
	}
	if !slices.Equal(p.Protocols(), []string{"docker-registry"}) || !slices.Equal(p.DefaultPorts(), []uint16{5000}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

// TestProbeOpen reads the lab registry twice: with the default page size,
// and two repositories a page, which makes the catalog follow its Link
// headers.
func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.RegistryOpen)
	for _, size := range []int{0, 2} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			res, rec, err := run(t, &Prober{pageSize: size}, lab.RegistryOpen, 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != ajar.StatusExposed || res.Exposure == nil {
				t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
			}
			exp := res.Exposure
			want := lab.RegistryRepositories()
			if len(exp.Datasets) != len(want) {
				t.Fatalf("datasets %+v, want %+v", exp.Datasets, want)
			}
			var tags int64
			for i, d := range exp.Datasets {
				if d.Name != want[i].Name || d.Records != int64(len(want[i].Tags)) || d.Estimated {
					t.Errorf("dataset %+v, want %s with %d tags", d, want[i].Name, len(want[i].Tags))
				}
				tags += int64(len(want[i].Tags))
			}
			if exp.Records != tags || res.Detail != "" {
				t.Errorf("records %d, want %d; detail %q", exp.Records, tags, res.Detail)
			}
			if len(exp.Samples) == 0 || exp.Samples[0].Doc["repository"] != want[0].Name || !slices.Contains(want[0].Tags, exp.Samples[0].Doc["tag"]) {
				t.Errorf("samples %+v", exp.Samples)
			}
			if ev := exp.Evidence; ev == nil || !strings.HasPrefix(ev.Request, "GET /v2/_catalog?n=") || !strings.Contains(ev.Response, want[0].Name) {
				t.Errorf("evidence %+v", ev)
			}
			pages := (len(want) + 1) / 2
			if size == 0 {
				pages = 1
			}
			if got := len(rec.requests); got != 1+pages+len(want) {
				t.Errorf("%d requests, want /v2/, %d catalog pages and %d tag lists: %q", got, pages, len(want), rec.requests)
			}
			for _, r := range rec.requests {
				if !strings.HasPrefix(r, "GET /v2/") {
					t.Errorf("sent %q", r)
				}
			}
			for _, a := range rec.dialed {
				if a != lab.RegistryOpen {
					t.Errorf("dialled %s", a)
				}
			}
		})
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.RegistrySecured)
	res, rec, err := run(t, &Prober{}, lab.RegistrySecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("result %+v, want protected", res)
	}
	if !strings.HasPrefix(res.Detail, "HTTP 401: Basic realm=") {
		t.Errorf("detail %q", res.Detail)
	}
	if !slices.Equal(rec.requests, []string{"GET /v2/"}) {
		t.Errorf("requests %q", rec.requests)
	}
}

// server is a scripted HTTP server on the test's own address.
func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.30:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// third listens on 127.0.20.99 and counts the connections it gets.
func third(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

// TestNothingElseDialled: Link headers and redirects that point at another
// host are not followed.
func TestNothingElseDialled(t *testing.T) {
	other, hits := third(t)
	addr := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(apiVersion, "registry/2.0")
		switch {
		case r.URL.Path == "/v2/":
			w.Write([]byte("{}"))
		case r.URL.Path == "/v2/_catalog" && r.URL.Query().Get("last") == "":
			w.Header().Set("Link", "<http://"+other+"/v2/_catalog?last=a&n=1>; rel=\"next\"")
			w.Write([]byte(`{"repositories":["a"]}`))
		case r.URL.Path == "/v2/_catalog":
			http.Redirect(w, r, "http://"+other+"/v2/_catalog", http.StatusFound)
		case r.URL.Path == "/v2/a/tags/list":
			http.Redirect(w, r, "http://"+other+"/v2/a/tags/list", http.StatusTemporaryRedirect)
		}
	})
	res, rec, err := run(t, &Prober{pageSize: 1}, addr, 5*time.Second)
	if !errors.Is(err, httpc.ErrRedirect) {
		t.Errorf("error %v, want a refused redirect", err)
	}
	if res.Status != ajar.StatusExposed || len(res.Exposure.Datasets) != 0 {
		t.Errorf("result %+v %+v", res, res.Exposure)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host was dialled %d times", n)
	}
	for _, a := range rec.dialed {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
	// The foreign Link was dropped; the page being full, the next one was
	// asked of the target itself, which redirected, and that ended the
	// catalog.
	want := []string{"GET /v2/", "GET /v2/_catalog?n=1", "GET /v2/_catalog?n=1&last=a", "GET /v2/a/tags/list?n=1000"}
	if !slices.Equal(rec.requests, want) {
		t.Errorf("requests %q, want %q", rec.requests, want)
	}
}

func TestScripted(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  ajar.Status
		detail  string
		records int64
	}{
		{"token auth on the catalog", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(apiVersion, "registry/2.0")
			if r.URL.Path == "/v2/" {
				return
			}
			w.Header().Set("Www-Authenticate", `Bearer realm="https://auth.example/token",scope="registry:catalog:*"`)
			w.WriteHeader(http.StatusUnauthorized)
		}, ajar.StatusProtected, `HTTP 401: Bearer realm="https://auth.example/token",scope="registry:catalog:*"`, 0},
		{"catalog disabled", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return
			}
			http.NotFound(w, r)
		}, ajar.StatusOpen, "GET /v2/_catalog?n=100: HTTP 404", 0},
		{"names that are not repository names", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v2/":
			case "/v2/_catalog":
				w.Write([]byte(`{"repositories":["../../etc","a?b","ok/repo","UPPER"]}`))
			case "/v2/ok/repo/tags/list":
				w.Write([]byte(`{"name":"ok/repo","tags":["1","2","3"]}`))
			default:
				t.Errorf("request %s", r.URL)
			}
		}, ajar.StatusExposed, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := server(t, tt.handler)
			res, _, err := run(t, &Prober{}, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != tt.status || res.Detail != tt.detail {
				t.Errorf("status %q detail %q, want %q %q", res.Status, res.Detail, tt.status, tt.detail)
			}
			if res.Exposure != nil && res.Exposure.Records != tt.records {
				t.Errorf("records %d, want %d", res.Exposure.Records, tt.records)
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
	ln, err := net.Listen("tcp", "127.0.20.30:0")
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
	ok := "HTTP/1.1 200 OK\r\nDocker-Distribution-Api-Version: registry/2.0\r\n"
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\r\n\r\n"}, nil},
		{hostile{name: "endless header", prefix: ok + "X: ", fill: bytes.Repeat([]byte("A"), 4096)}, nil},
		{hostile{name: "endless body", prefix: ok + "\r\n", fill: bytes.Repeat([]byte("A"), 4096)}, httpc.ErrTooLarge},
		{hostile{name: "absurd length", prefix: ok + "Content-Length: 99999999999\r\n\r\n{"}, httpc.ErrTooLarge},
		{hostile{name: "trickle", prefix: ok + "Content-Length: 100\r\n\r\n", fill: []byte("{"), every: 50 * time.Millisecond}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, &Prober{}, addr, deadline)
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

func TestNextPage(t *testing.T) {
	tests := []struct{ link, want string }{
		{`</v2/_catalog?last=b&n=100>; rel="next"`, "/v2/_catalog?last=b&n=100"},
		{`</v2/_catalog?last=b&n=100>; rel=next`, ""},
		{`<http://127.0.20.99/v2/_catalog?last=b>; rel="next"`, ""},
		{`<//127.0.20.99/v2/_catalog?last=b>; rel="next"`, ""},
		{`</v2/other?last=b>; rel="next"`, ""},
		{`</v2/_catalog?last=a>; rel="prev", </v2/_catalog?last=c>; rel="next"`, "/v2/_catalog?last=c"},
		{``, ""},
	}
	for _, tt := range tests {
		if got := nextPage(tt.link, "/v2/_catalog"); got != tt.want {
			t.Errorf("nextPage(%q) = %q, want %q", tt.link, got, tt.want)
		}
	}
}

func TestRepoName(t *testing.T) {
	for name, ok := range map[string]bool{
		"backend/billing-api": true, "a": true, "a__b/c.d": true, "a--b": true,
		"../etc": false, "a?b": false, "A": false, "a/": false, "/a": false, "a//b": false, "": false,
	} {
		if repoName.MatchString(name) != ok {
			t.Errorf("repoName(%q) = %v", name, !ok)
		}
	}
}
