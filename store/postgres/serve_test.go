package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/server"
	"github.com/ajar-scan/ajar/store/postgres"
	"github.com/ajar-scan/ajar/store/postgres/pgtest"
)

// The PostgreSQL store is everything `ajar serve` needs.
var _ server.Store = (*postgres.Store)(nil)

// TestServe serves the JSON API over a PostgreSQL store, as
// `ajar serve --store postgres://…` does, with keys created through the store.
func TestServe(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const reader, admin = "reader-secret-1", "admin-secret-1"
	for _, k := range []struct{ id, role, secret string }{{"kr", ajar.RoleReader, reader}, {"ka", ajar.RoleAdmin, admin}} {
		if err := st.CreateKey(ctx, ajar.APIKey{ID: k.id, Role: k.role, Created: now}, server.HashKey(k.secret)); err != nil {
			t.Fatal(err)
		}
	}
	for i, addr := range []string{"127.0.10.10", "127.0.10.20", "127.0.10.30", "::1"} {
		ev := ajar.Event{Schema: ajar.Schema, Time: now.Add(-time.Duration(i) * 24 * time.Hour),
			Target:  ajar.Target{Addr: netip.MustParseAddr(addr), Port: 6379},
			Service: ajar.Service{Transport: "tcp", Protocol: "redis"}, Plugin: "redis", Status: ajar.StatusExposed,
			Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessAdmin, Records: int64(1000 * (i + 1)), Classes: []string{"phone"},
				Datasets: []ajar.Dataset{{Name: "db0", Records: int64(1000 * (i + 1)), Fields: []string{"mobile"}}},
				Severity: ajar.SeverityCritical},
			Attribution: &ajar.Attribution{Provider: []string{"alibaba", "aws"}[i%2], Country: "CN"}}
		if err := st.Record(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(server.New(server.Config{Store: st, Now: func() time.Time { return now }}))
	defer srv.Close()

	do := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, m
	}
	exposures := func(q, facets, cursor string, limit int) string {
		v := url.Values{"q": {q}, "facets": {facets}, "limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		return "/api/v1/exposures?" + v.Encode()
	}

	if code, _ := do("GET", exposures("", "", "", 10), "", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d", code)
	}
	code, m := do("GET", exposures("protocol:redis class:phone records>=2000", "provider,country,port", "", 10), reader, "")
	if code != http.StatusOK || m["total"] != 3.0 {
		t.Fatalf("search: %d %v", code, m)
	}
	items := m["items"].([]any)
	if ip := items[0].(map[string]any)["ip"]; ip != "127.0.10.20" || items[2].(map[string]any)["ip"] != "::1" {
		t.Errorf("items not in address order: %v", items)
	}
	js, _ := json.Marshal(m["facets"])
	var facets map[string][]ajar.FacetCount
	if err := json.Unmarshal(js, &facets); err != nil {
		t.Fatal(err)
	}
	want := map[string][]ajar.FacetCount{
		"country":  {{Value: "CN", Count: 3}},
		"port":     {{Value: "6379", Count: 3}},
		"provider": {{Value: "aws", Count: 2}, {Value: "alibaba", Count: 1}},
	}
	if !reflect.DeepEqual(facets, want) {
		t.Errorf("facets %v, want %v", facets, want)
	}
	if code, m := do("GET", exposures("records>lots", "", "", 10), reader, ""); code != http.StatusBadRequest || m["error"].(map[string]any)["code"] != "bad_query" {
		t.Errorf("bad query: %d %v", code, m)
	}

	// Pages of one, in address order.
	var ips []string
	for cursor, n := "", 0; ; n++ {
		code, m := do("GET", exposures("ip:127.0.10.0/24 OR ip:::/0", "", cursor, 1), reader, "")
		if code != http.StatusOK || n > 4 {
			t.Fatalf("page %d: %d %v", n, code, m)
		}
		for _, it := range m["items"].([]any) {
			ips = append(ips, it.(map[string]any)["ip"].(string))
		}
		if cursor, _ = m["next_cursor"].(string); cursor == "" {
			break
		}
	}
	if got := strings.Join(ips, " "); got != "127.0.10.10 127.0.10.20 127.0.10.30 ::1" {
		t.Errorf("pages gave %s", got)
	}

	// A disclosure set through the API is searchable and audited.
	id := int64(items[0].(map[string]any)["id"].(float64))
	path := fmt.Sprintf("/api/v1/exposures/%d/disclosure", id)
	if code, _ := do("PUT", path, reader, `{"state":"triaged"}`); code != http.StatusForbidden {
		t.Errorf("reader set a disclosure: %d", code)
	}
	if code, m := do("PUT", path, admin, `{"state":"notified","contact":"security@example.com","channel":"email"}`); code != http.StatusOK {
		t.Fatalf("set disclosure: %d %v", code, m)
	}
	if code, m := do("GET", exposures("disclosure:notified", "disclosure", "", 10), reader, ""); code != http.StatusOK || m["total"] != 1.0 {
		t.Errorf("disclosure:notified: %d %v", code, m)
	}
	if code, m := do("GET", "/api/v1/events?since=0&limit=2", reader, ""); code != http.StatusOK || len(m["items"].([]any)) != 2 || m["next_since"] != 2.0 {
		t.Errorf("events: %d %v", code, m)
	}
	if code, m := do("GET", "/api/v1/stats", reader, ""); code != http.StatusOK {
		t.Errorf("stats: %d %v", code, m)
	}
}
