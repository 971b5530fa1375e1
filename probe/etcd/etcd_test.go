package etcd

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
	"github.com/ajar-scan/ajar/probe/probetest"
)

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("etcd")
	if !ok {
		t.Fatal(`no prober registered as "etcd"`)
	}
	if !slices.Equal(p.Protocols(), []string{"etcd"}) || !slices.Equal(p.DefaultPorts(), []uint16{2379}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.EtcdOpen)
	res, _, err := run(t, lab.EtcdOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "etcd" || !strings.HasPrefix(res.Version, "3.4.") {
		t.Errorf("product %q version %q, want etcd 3.4", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "etcd" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	if len(exp.Datasets) != 2 {
		t.Fatalf("datasets %+v, want /config/ and /persons/", exp.Datasets)
	}
	cfg, persons := exp.Datasets[0], exp.Datasets[1]
	if cfg.Name != "/config/" || cfg.Records != lab.EtcdConfig || persons.Name != "/persons/" || persons.Records != lab.EtcdPersons {
		t.Errorf("datasets %s=%d %s=%d, want /config/=%d /persons/=%d", cfg.Name, cfg.Records, persons.Name, persons.Records,
			lab.EtcdConfig, lab.EtcdPersons)
	}
	if exp.Records != lab.EtcdConfig+lab.EtcdPersons || persons.Bytes <= cfg.Bytes || cfg.Bytes <= 0 {
		t.Errorf("totals %d records %d bytes; datasets %+v", exp.Records, exp.Bytes, exp.Datasets)
	}
	if want := []string{"address", "id_number", "mobile", "name"}; !slices.Equal(persons.Fields, want) {
		t.Errorf("/persons/ fields %v, want %v", persons.Fields, want)
	}
	n := map[string]int{}
	for _, s := range exp.Samples {
		n[s.Dataset]++
		if s.Dataset == persons.Name && (len(s.Doc["id_number"]) != 18 || !strings.HasPrefix(s.Doc["_key"], "/persons/")) {
			t.Errorf("/persons/ sample has %d fields", len(s.Doc))
		}
		if s.Dataset == cfg.Name && s.Doc["value"] == "" {
			t.Errorf("/config/ sample without a value")
		}
	}
	if n[cfg.Name] != 5 || n[persons.Name] != 5 {
		t.Errorf("samples per dataset %v, want 5 each", n)
	}
	if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Response, `"count":"1012"`) {
		t.Errorf("evidence %+v", ev)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.EtcdSecured)
	res, _, err := run(t, lab.EtcdSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Product != "etcd" ||
		res.Detail != "etcdserver: user name is empty" {
		t.Fatalf("result %+v, want protected", res)
	}
}

// checkReadOnly checks that every request was GET /version, a Range or
// Maintenance.Status.
func checkReadOnly(t *testing.T, d *probetest.TapDialer) {
	t.Helper()
	reqs := d.Requests(t)
	if len(reqs) < 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		ok := r.Method == http.MethodGet && r.URL.Path == "/version" ||
			r.Method == http.MethodPost && slices.Contains([]string{"/v3/kv/range", "/v3beta/kv/range", "/v3alpha/kv/range", "/v3/maintenance/status"}, r.URL.Path)
		if !ok {
			t.Errorf("sent %s %s, not on the read-only list", r.Method, r.URL.Path)
		}
	}
}

func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.EtcdOpen)
	_, d, err := run(t, lab.EtcdOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	checkReadOnly(t, d)
}

// fakeEtcd is an etcd gateway over a sorted key list.
func fakeEtcd(keys []string, extra func(w http.ResponseWriter, r *http.Request) bool) http.Handler {
	slices.Sort(keys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if extra != nil && extra(w, r) {
			return
		}
		switch r.URL.Path {
		case "/version":
			_, _ = io.WriteString(w, `{"etcdserver":"3.5.9","etcdcluster":"3.5.0"}`)
		case "/v3/maintenance/status":
			_, _ = io.WriteString(w, `{"version":"3.5.9","dbSize":"100000","dbSizeInUse":"50000"}`)
		case "/v3/kv/range":
			var req rangeRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
				return
			}
			var out rangeAnswer
			for _, k := range keys {
				if k < string(req.Key) || !(len(req.RangeEnd) == 1 && req.RangeEnd[0] == 0) && k >= string(req.RangeEnd) {
					continue
				}
				out.Count++
				if !req.CountOnly && (req.Limit == 0 || int64(len(out.KVs)) < req.Limit) {
					out.KVs = append(out.KVs, keyValue{Key: []byte(k), Value: []byte(`{"host":"` + k + `"}`)})
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"kvs": out.KVs, "count": fmt.Sprint(out.Count)})
		default:
			http.NotFound(w, r)
		}
	})
}

// TestScripted covers key spaces the lab does not hold.
func TestScripted(t *testing.T) {
	phones := func(n int) []string {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("%011d", 13800000000+i)) // no name: counted under "*"
		}
		return keys
	}
	tests := []struct {
		name string
		keys []string
		want map[string]int64
	}{
		{"a few unnamed keys", append(phones(50), "/app/a", "/app/b", "svc:x", "\xff\xff"),
			map[string]int64{"/app/": 2, "svc:": 1, "*": 51}},
		// The walk stops after maxSteps steps and counts the rest at once.
		{"more unnamed keys than steps", append(phones(300), "/app/a", "/app/b", "svc:x", "\xff\xff"),
			map[string]int64{"/app/": 2, "*": 302}},
		{"nothing but 0xff", []string{"\xff", "\xff\xff/a"}, map[string]int64{"*": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveHTTP(t, "127.0.20.9:0", fakeEtcd(tt.keys, nil))
			res, d, err := run(t, addr, 2*time.Second)
			if err != nil || res.Status != ajar.StatusExposed {
				t.Fatalf("Probe: %+v, %v", res, err)
			}
			got := map[string]int64{}
			for _, ds := range res.Exposure.Datasets {
				got[ds.Name] = ds.Records
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || res.Exposure.Records != int64(len(tt.keys)) {
				t.Errorf("datasets %v (total %d), want %v", got, res.Exposure.Records, tt.want)
			}
			if n := len(d.Requests(t)); n > 2*maxSteps+24 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	const version = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
	// raw answers each request with the next answer; after the last, it
	// writes forever when asked to.
	raw := func(forever bool, answers ...string) func(net.Conn) {
		return func(c net.Conn) {
			rd := bufio.NewReader(c)
			for _, a := range answers {
				if _, err := http.ReadRequest(rd); err != nil {
					return
				}
				if _, err := io.WriteString(c, a); err != nil {
					return
				}
			}
			if !forever {
				_, _ = io.Copy(io.Discard, rd)
				return
			}
			fill := []byte(strings.Repeat("A", 32<<10))
			for {
				if _, err := c.Write(fill); err != nil {
					return
				}
			}
		}
	}
	tests := []struct {
		name string
		h    func(net.Conn)
		want error
	}{
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, context.DeadlineExceeded},
		{"garbage", raw(false, "\x00\xff garbage \x13\x37\r\n\r\n"), nil},
		{"endless header", raw(true, "HTTP/1.1 200 OK\r\nX-A: "), nil},
		{"absurd length", raw(true, version, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n{"), httpc.ErrTooLarge},
		{"endless chunks", raw(true, version, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n"), nil},
		{"endless JSON", raw(true, version, "HTTP/1.1 200 OK\r\n\r\n{\"kvs\":[{\"key\":\""), httpc.ErrTooLarge},
		{"negative count", raw(false, version, "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"count\":\"-1\"}\n"), ErrNotEtcd},
		{"trickle", func(c net.Conn) {
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			for _, b := range []byte(version) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := serve(t, "127.0.20.9:0", tt.h)
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
				t.Fatalf("result %+v, want open", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 8*maxBody {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestOnlyTarget points the probe at a server whose member list, keys and
// redirects name another address: the probe must dial the target alone.
func TestOnlyTarget(t *testing.T) {
	elsewhere, accepted := serve(t, "127.0.20.99:0", func(net.Conn) {})
	members := fmt.Sprintf(`{"members":[{"name":"b","peerURLs":["http://%[1]s"],"clientURLs":["http://%[1]s"]}]}`, elsewhere)
	tests := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"members": func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v3/cluster/member/list" {
				_, _ = io.WriteString(w, members)
				return true
			}
			return false
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v3/kv/range" {
				http.Redirect(w, r, "http://"+elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
				return true
			}
			return false
		},
	}
	for name, extra := range tests {
		t.Run(name, func(t *testing.T) {
			key := "/members/" + base64.StdEncoding.EncodeToString([]byte("http://"+elsewhere))
			addr := serveHTTP(t, "127.0.20.9:0", fakeEtcd([]string{key}, extra))
			_, d, _ := run(t, addr, time.Second, true)
			if len(d.Dials()) == 0 {
				t.Error("no dial recorded")
			}
			for _, a := range d.Dials() {
				if a != addr {
					t.Errorf("dialled %s; the target is %s", a, addr)
				}
			}
		})
	}
	if n := accepted(); n != 0 {
		t.Errorf("%s accepted %d connections", elsewhere, n)
	}
}
