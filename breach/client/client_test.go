package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/client"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/breach/query"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/lab/fake"
)

// recorder keeps every request line and body the server received.
type recorder struct {
	mu   sync.Mutex
	seen strings.Builder
}

func (rc *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.seen.WriteString(r.Method + " " + r.URL.String() + "\n" + string(b) + "\n")
		rc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
}

func TestCheckEndToEnd(t *testing.T) {
	dir := t.TempDir()
	for _, l := range []struct {
		name  string
		first int
		modes map[breach.Kind]breach.Mode
	}{
		{"private-leak", 1, nil},
		{"hashed-leak", 151, map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed, breach.KindID: breach.ModeHashed}},
	} {
		var buf bytes.Buffer
		leakgen.Write(&buf, leakgen.Options{Format: leakfile.CSV, Seed: 3, First: l.first, Rows: 200})
		if _, err := rangedb.Import(context.Background(), dir, &buf, rangedb.ImportOptions{Name: l.name, Date: "2022-06-30", Modes: l.modes}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := rangedb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec recorder
	srv := httptest.NewServer(rec.wrap(api.New(db, api.Options{})))
	defer srv.Close()
	c, err := client.New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := ident.NewNormalizer("CN")
	g := fake.New(3)
	for _, tc := range []struct {
		person int
		want   []string
	}{
		{10, []string{"private-leak"}},
		{170, []string{"private-leak", "hashed-leak"}},
		{300, []string{"hashed-leak"}},
		{400, nil},
	} {
		name, phone, id, email, _ := leakgen.Person(g, tc.person)
		_ = name
		for _, v := range []string{phone, "+86 " + phone, id, email} {
			rec.seen.Reset()
			q, err := query.New(n, "", v)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Check(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range res.Breaches {
				got = append(got, b.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("person %d, %s: found in %v, want %v", tc.person, v, got, tc.want)
			}
			norm, _ := n.Normalize(q.Kind, v)
			d := breach.Hash(q.Kind, norm)
			seen := rec.seen.String()
			for _, secret := range []string{v, norm, strings.TrimPrefix(norm, "+"), d.Hex(), d.Hex()[:12], breach.HashedSuffix(d)} {
				if strings.Contains(strings.ToUpper(seen), strings.ToUpper(secret)) {
					t.Errorf("the server saw %q: %s", secret, seen)
				}
			}
			if !strings.Contains(seen, q.Prefix()) {
				t.Errorf("the server never saw the prefix %s", q.Prefix())
			}
		}
	}
}

func TestServerErrors(t *testing.T) {
	n, _ := ident.NewNormalizer("CN")
	q, _ := query.New(n, breach.KindPhone, "13812345678")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"down for maintenance"}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, nil)
	_, err := c.Check(context.Background(), q)
	var se *client.ServerError
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(err.Error(), "down for maintenance") {
		t.Errorf("error %v", err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://127.0.0.1", "http://"} {
		if _, err := client.New(bad, nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
