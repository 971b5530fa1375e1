package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/sqlite"
)

type fixture struct {
	srv           *httptest.Server
	s             *Server
	store         *sqlite.Store
	reader, admin string
	clock         *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, rate int) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f := &fixture{store: st, reader: "reader-secret-1", admin: "admin-secret-1", clock: clk}
	for _, k := range []struct{ id, role, secret string }{{"kr", ajar.RoleReader, f.reader}, {"ka", ajar.RoleAdmin, f.admin}} {
		if err := st.CreateKey(ctx, ajar.APIKey{ID: k.id, Role: k.role, Created: clk.now()}, HashKey(k.secret)); err != nil {
			t.Fatal(err)
		}
	}
	for i, addr := range []string{"127.0.10.10", "127.0.10.20", "127.0.10.30"} {
		ev := ajar.Event{Schema: ajar.Schema, Time: clk.now().Add(-time.Duration(i) * 24 * time.Hour), Target: ajar.Target{Addr: netip.MustParseAddr(addr), Port: 6379},
			Service: ajar.Service{Transport: "tcp", Protocol: "redis"}, Plugin: "redis", Status: ajar.StatusExposed,
			Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessAdmin, Records: int64(1000 * (i + 1)), Classes: []string{"phone"},
				Datasets: []ajar.Dataset{{Name: "db0", Records: int64(1000 * (i + 1)), Fields: []string{"mobile"}}},
				Samples:  []ajar.Sample{{Dataset: "db0", Doc: map[string]string{"mobile": "138****5678"}}},
				Severity: ajar.SeverityCritical, Evidence: &ajar.Evidence{Request: "INFO keyspace", Response: "db0:keys=1000"}},
			Attribution: &ajar.Attribution{Provider: "alibaba", Country: "CN"}}
		if err := st.Record(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	f.s = New(Config{Store: st, RatePerMinute: rate, Now: clk.now})
	f.srv = httptest.NewServer(f.s)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, key, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, path, b)
		}
	} else {
		m = map[string]any{"body": string(b)}
	}
	return resp.StatusCode, resp.Header, m
}

func TestAuth(t *testing.T) {
	f := newFixture(t, 1000)
	for _, tc := range []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/api/v1/exposures", "", 401},
		{"GET", "/api/v1/exposures", "wrong", 401},
		{"GET", "/api/v1/exposures", f.reader, 200},
		{"GET", "/api/v1/alerts", f.reader, 403},
		{"GET", "/api/v1/alerts", f.admin, 200},
		{"PUT", "/api/v1/exposures/1/disclosure", f.reader, 403},
		{"GET", "/api/v1/nothing", f.reader, 404},
		{"GET", "/api/v1/openapi.json", "", 401},
	} {
		code, h, m := f.do(t, tc.method, tc.path, tc.key, `{}`)
		if code != tc.want {
			t.Errorf("%s %s key %q: %d, want %d", tc.method, tc.path, tc.key, code, tc.want)
		}
		if code >= 400 {
			e, _ := m["error"].(map[string]any)
			if e == nil || e["message"] == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: error body %v", tc.method, tc.path, m)
			}
		}
	}
	// A revoked key stops working.
	if err := f.store.RevokeKey(context.Background(), "kr", f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := f.do(t, "GET", "/api/v1/exposures", f.reader, ""); code != 401 {
		t.Errorf("revoked key: %d", code)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, 5)
	for i := range 5 {
		if code, _, _ := f.do(t, "GET", "/api/v1/stats", f.reader, ""); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	code, h, _ := f.do(t, "GET", "/api/v1/stats", f.reader, "")
	if code != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("sixth request: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	// Another key has its own budget; time refills.
	if code, _, _ := f.do(t, "GET", "/api/v1/stats", f.admin, ""); code != 200 {
		t.Errorf("other key limited: %d", code)
	}
	f.clock.add(time.Minute)
	if code, _, _ := f.do(t, "GET", "/api/v1/stats", f.reader, ""); code != 200 {
		t.Errorf("after a minute: %d", code)
	}
}

func TestExposures(t *testing.T) {
	f := newFixture(t, 1000)
	code, _, m := f.do(t, "GET", "/api/v1/exposures?q=records>1500&facets=provider,status&limit=1", f.reader, "")
	if code != 200 || m["total"].(float64) != 2 || len(m["items"].([]any)) != 1 || m["next_cursor"] == "" {
		t.Fatalf("search: %d %v", code, m)
	}
	it := m["items"].([]any)[0].(map[string]any)
	if it["schema"] != "ajar/1" || it["ip"] != "127.0.10.20" || it["id"] == nil {
		t.Errorf("item %v", it)
	}
	fc := m["facets"].(map[string]any)["provider"].([]any)[0].(map[string]any)
	if fc["value"] != "alibaba" || fc["count"].(float64) != 2 {
		t.Errorf("facet %v", fc)
	}
	code, _, m = f.do(t, "GET", "/api/v1/exposures?q=records>1500&limit=1&cursor="+m["next_cursor"].(string), f.reader, "")
	if code != 200 || m["items"].([]any)[0].(map[string]any)["ip"] != "127.0.10.30" || m["next_cursor"] != "" {
		t.Errorf("second page: %v", m)
	}
	code, _, m = f.do(t, "GET", "/api/v1/exposures?q=records>lots", f.reader, "")
	if code != 400 || m["error"].(map[string]any)["column"].(float64) != 9 {
		t.Errorf("bad query: %d %v", code, m)
	}
	for _, p := range []string{"/api/v1/exposures?limit=0", "/api/v1/exposures?limit=x", "/api/v1/exposures?facets=password", "/api/v1/exposures/abc", "/api/v1/events?since=-1"} {
		if code, _, _ := f.do(t, "GET", p, f.reader, ""); code != 400 {
			t.Errorf("%s: %d, want 400", p, code)
		}
	}
	if code, _, _ := f.do(t, "GET", "/api/v1/exposures/99999", f.reader, ""); code != 404 {
		t.Errorf("missing exposure: %d", code)
	}
	code, _, m = f.do(t, "GET", "/api/v1/exposures/1", f.reader, "")
	if code != 200 || len(m["events"].([]any)) != 1 || m["disclosure"].(map[string]any)["state"] != "new" {
		t.Errorf("detail: %d %v", code, m)
	}
}

func TestDisclosureAndReport(t *testing.T) {
	f := newFixture(t, 1000)
	if code, _, m := f.do(t, "PUT", "/api/v1/exposures/1/disclosure", f.admin, `{"state":"notified"}`); code != 400 {
		t.Errorf("notified without contact: %d %v", code, m)
	}
	if code, _, _ := f.do(t, "PUT", "/api/v1/exposures/1/disclosure", f.admin, `{"state":"gone"}`); code != 400 {
		t.Errorf("unknown state: %d", code)
	}
	code, _, m := f.do(t, "PUT", "/api/v1/exposures/1/disclosure", f.admin, `{"state":"notified","contact":"security@example.com","channel":"email"}`)
	if code != 200 || m["disclosure"].(map[string]any)["state"] != "notified" || m["disclosure"].(map[string]any)["by"] != "ka" {
		t.Fatalf("put: %d %v", code, m)
	}
	_, _, m = f.do(t, "GET", "/api/v1/exposures?q=disclosure:notified", f.reader, "")
	if m["total"].(float64) != 1 {
		t.Errorf("search by disclosure: %v", m)
	}
	code, h, m := f.do(t, "GET", "/api/v1/exposures/1/report", f.reader, "")
	body, _ := m["body"].(string)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/markdown") || !strings.Contains(body, "138****5678") ||
		!strings.Contains(body, "INFO keyspace") || !strings.Contains(body, "| disclosure | notified |") {
		t.Errorf("report: %d\n%s", code, body)
	}
	if code, _, m := f.do(t, "GET", "/api/v1/exposures/1/report?format=json", f.reader, ""); code != 200 || m["exposure"] == nil {
		t.Errorf("json report: %d", code)
	}
}

func TestEventsAndStats(t *testing.T) {
	f := newFixture(t, 1000)
	code, _, m := f.do(t, "GET", "/api/v1/events?since=0&limit=2", f.reader, "")
	if code != 200 || len(m["items"].([]any)) != 2 || m["next_since"].(float64) != 2 {
		t.Fatalf("events: %d %v", code, m)
	}
	_, _, m = f.do(t, "GET", "/api/v1/events?since=2", f.reader, "")
	if len(m["items"].([]any)) != 1 {
		t.Errorf("events after 2: %v", m)
	}
	code, _, m = f.do(t, "GET", "/api/v1/stats", f.reader, "")
	if code != 200 || m["total"].(float64) != 3 || len(m["new_per_day"].([]any)) != 30 {
		t.Fatalf("stats: %d %v", code, m)
	}
	days := m["new_per_day"].([]any)
	if last := days[29].(map[string]any); last["value"] != "2026-11-25" || last["count"].(float64) != 1 {
		t.Errorf("today: %v", last)
	}
}

func TestAlertRules(t *testing.T) {
	f := newFixture(t, 1000)
	for _, body := range []string{
		`{"cidrs":["127.0.10.0/24"]}`,
		`{"webhook":"https://hooks.example.com/x"}`,
		`{"cidrs":["nonsense"],"webhook":"https://hooks.example.com/x"}`,
		`{"cidrs":["10.0.0.0/8"],"webhook":"http://127.0.0.1:8080/hook"}`,
		`{"cidrs":["10.0.0.0/8"],"webhook":"http://[::1]/hook"}`,
		`{"cidrs":["10.0.0.0/8"],"webhook":"http://192.168.1.5/hook"}`,
		`{"cidrs":["10.0.0.0/8"],"webhook":"http://localhost/hook"}`,
		`{"cidrs":["10.0.0.0/8"],"webhook":"file:///etc/passwd"}`,
	} {
		if code, _, m := f.do(t, "POST", "/api/v1/alerts", f.admin, body); code != 400 {
			t.Errorf("%s: %d %v", body, code, m)
		}
	}
	code, _, m := f.do(t, "POST", "/api/v1/alerts", f.admin, `{"name":"mine","cidrs":["127.0.10.0/24"],"names":["*.example.com"],"webhook":"https://hooks.example.com/x","secret":"s3cr3t"}`)
	if code != 201 || m["id"] == nil || m["secret"] != nil {
		t.Fatalf("add: %d %v", code, m)
	}
	_, _, m = f.do(t, "GET", "/api/v1/alerts", f.admin, "")
	if items := m["items"].([]any); len(items) != 1 || strings.Contains(mustJSON(items), "s3cr3t") {
		t.Errorf("list leaks or lacks the rule: %v", m)
	}
	if code, _, _ := f.do(t, "DELETE", "/api/v1/alerts/1", f.admin, ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := f.do(t, "DELETE", "/api/v1/alerts/1", f.admin, ""); code != 404 {
		t.Errorf("delete twice: %d", code)
	}
	// The operator may allow internal webhooks (closed networks, tests).
	g := New(Config{Store: f.store, AllowPrivateWebhooks: true})
	r := &ajar.AlertRule{CIDRs: []string{"127.0.10.0/24"}, Webhook: "http://127.0.20.1:9/hook"}
	if err := ValidateRule(r, g.cfg.AllowPrivateWebhooks); err != nil {
		t.Errorf("allowed internal webhook refused: %v", err)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestOpenAPIMatchesRoutes holds the OpenAPI document to the routes served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Role string `json:"x-ajar-role"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var served, documented []string
	s := New(Config{})
	for _, r := range s.apiRoutes() {
		served = append(served, r.method+" "+r.path+" "+r.role)
	}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+path+" "+op.Role)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes and openapi.json differ:\nserved:     %v\ndocumented: %v", served, documented)
	}
}

func TestClientAddr(t *testing.T) {
	s := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.20.0/24")}})
	for _, tc := range []struct{ remote, xff, want string }{
		{"127.0.30.1:5000", "198.51.100.7", "127.0.30.1"},
		{"127.0.20.5:5000", "198.51.100.7", "198.51.100.7"},
		{"127.0.20.5:5000", "6.6.6.6, 198.51.100.7, 127.0.20.9", "198.51.100.7"},
		{"127.0.20.5:5000", "", "127.0.20.5"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.ClientAddr(r).String(); got != tc.want {
			t.Errorf("%s via %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}
