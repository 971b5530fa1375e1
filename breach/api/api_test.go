package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/breach/rangedb"
)

func store(t *testing.T) *rangedb.DB {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	if _, err := leakgen.Write(&buf, leakgen.Options{Format: leakfile.CSV, Seed: 1, First: 1, Rows: 300}); err != nil {
		t.Fatal(err)
	}
	if _, err := rangedb.Import(context.Background(), dir, &buf, rangedb.ImportOptions{
		Name: "a", Date: "2022-06-30", Exposure: "127.0.10.5:9200",
		// Hashed keeps the test quick; private answers are tested in package client.
		Modes: map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed, breach.KindID: breach.ModeHashed},
	}); err != nil {
		t.Fatal(err)
	}
	db, err := rangedb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestBadPrefix(t *testing.T) {
	srv := httptest.NewServer(api.New(store(t), api.Options{}))
	defer srv.Close()
	for _, p := range []string{"ABCD", "ABCDEF", "GHIJK", "12%2045", "-1234", "0x123", "%00%00%00%00%00"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			path := "/api/v1/breach/range/"
			if method == http.MethodPost {
				path = "/api/v1/breach/private/"
			}
			resp, err := http.DefaultClient.Do(must(http.NewRequest(method, srv.URL+path+p, strings.NewReader(`{"blinded":"00"}`))))
			if err != nil {
				t.Fatal(err)
			}
			var e breach.Error
			err = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || err != nil || !strings.Contains(e.Error, "5 hex digits") ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d %q (%v)", method, p, resp.StatusCode, e.Error, err)
			}
		}
	}
	for _, p := range []string{"abcde", "ABCDE", "00000", "FFFFF"} {
		if resp, _ := get(t, srv.URL+"/api/v1/breach/range/"+p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRangeAnswers(t *testing.T) {
	db := store(t)
	srv := httptest.NewServer(api.New(db, api.Options{CacheMaxAge: 10 * time.Minute}))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/api/v1/breaches")
	var list api.Breaches
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Breaches) != 1 {
		t.Fatalf("breach list %q: %v", body, err)
	}
	if b := list.Breaches[0]; b.Exposure != "127.0.10.5:9200" || b.Name != "a" || list.Suite != "ristretto255-SHA512" {
		t.Errorf("breach list: %+v", list)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("breach list Cache-Control %q", cc)
	}
	size := -1
	for _, p := range []string{"00000", "12345", "ABCDE", "FFFFF"} {
		resp, body := get(t, srv.URL+"/api/v1/breach/range/"+p)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=600" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: %d %v", p, resp.StatusCode, resp.Header)
		}
		if size >= 0 && len(body) != size {
			t.Errorf("GET %s: %d bytes, another answer had %d", p, len(body), size)
		}
		size = len(body)
		es, err := breach.ParseRange(body)
		if err != nil || len(es) != list.AnswerLines[breach.ModeHashed] {
			t.Errorf("GET %s: %d entries (%v), want %d", p, len(es), err, list.AnswerLines[breach.ModeHashed])
		}
	}
}

func TestPrivateErrors(t *testing.T) {
	srv := httptest.NewServer(api.New(store(t), api.Options{}))
	defer srv.Close()
	for _, tc := range []struct {
		body string
		code int
	}{
		{`not json`, 400},
		{`{"blinded":"zz"}`, 400},
		{`{"blinded":"00"}`, 400},
		{`{"blinded":"` + strings.Repeat("00", 32) + `"}`, 400}, // the identity element
		{`{"blinded":"` + strings.Repeat("ff", 32) + `"}`, 400}, // not an encoding
	} {
		resp, err := http.Post(srv.URL+"/api/v1/breach/private/ABCDE", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("body %q: %d, Cache-Control %q", tc.body, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	empty, err := rangedb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(api.New(empty, api.Options{}))
	defer srv2.Close()
	resp, err := http.Post(srv2.URL+"/api/v1/breach/private/ABCDE", "application/json",
		strings.NewReader(`{"blinded":"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("private request to an empty store: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1e9, 0)
	srv := httptest.NewServer(api.New(store(t), api.Options{RateLimit: 0.5, Burst: 3, Now: func() time.Time { return now }}))
	defer srv.Close()
	for i := range 3 {
		if resp, _ := get(t, srv.URL+"/api/v1/breach/range/ABCDE"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := get(t, srv.URL+"/api/v1/breach/range/ABCDE")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "too many") {
		t.Errorf("fourth request: %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := get(t, srv.URL+"/api/v1/breaches"); resp.StatusCode != 200 {
		t.Errorf("the breach list is limited too: %d", resp.StatusCode)
	}
	now = now.Add(2 * time.Second)
	if resp, _ := get(t, srv.URL+"/api/v1/breach/range/ABCDE"); resp.StatusCode != 200 {
		t.Errorf("after Retry-After: %d", resp.StatusCode)
	}
	free := httptest.NewServer(api.New(store(t), api.Options{RateLimit: 0}))
	defer free.Close()
	for i := range 100 {
		if resp, _ := get(t, free.URL+"/api/v1/breach/range/ABCDE"); resp.StatusCode != 200 {
			t.Fatalf("rate limit 0, request %d: %d", i+1, resp.StatusCode)
		}
	}
}
