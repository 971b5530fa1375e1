package httpc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.25.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func client(t *testing.T, addr string) *Client {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(&probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at, Timeout: time.Second}})
	t.Cleanup(c.Close)
	return c
}

func TestClient(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != userAgent || r.Header.Get("X-Test") != "1" {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 2000)))
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?next=%2F", http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:80/", http.StatusMovedPermanently)
	})
	addr := serve(t, mux)
	c := client(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	r, err := c.Get(ctx, "/ok", http.Header{"X-Test": {"1"}})
	if err != nil || r.Status != 200 || string(r.Body) != `{"ok":true}` {
		t.Errorf("/ok: %+v, %v", r, err)
	}
	c.MaxBody = 1000
	if _, err := c.Get(ctx, "/big", nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("/big: %v, want ErrTooLarge", err)
	}
	c.MaxBody = 0
	if r, err := c.Get(ctx, "/here", nil); err != nil || r.Status != http.StatusFound || r.Location() != "/login?next=%2F" {
		t.Errorf("/here: %+v, %v; want the redirect itself", r, err)
	}
	if _, err := c.Get(ctx, "/away", nil); !errors.Is(err, ErrRedirect) {
		t.Errorf("/away: %v, want ErrRedirect", err)
	}
	for _, bad := range []string{"http://127.0.0.2/", "//127.0.0.2/x", "x"} {
		if _, err := c.Get(ctx, bad, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"张伟", 4, "张"}, // 张 is 3 bytes: the cut second character is dropped
		{"a\xffb", 10, "ab"},
	}
	for _, tt := range tests {
		if got := Excerpt([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestFlattenDoc(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  bool
	}{
		{"flat", `{"xm":"张伟","n":12,"b":true,"z":null}`, map[string]string{"xm": "张伟", "n": "12", "b": "true"}, false},
		{"nested", `{"region":{"code":"310104","name":"上海市徐汇区"}}`, map[string]string{"region.code": "310104", "region.name": "上海市徐汇区"}, false},
		{"array", `{"phones":["138","139"],"o":[{"a":1},{"a":2}]}`, map[string]string{"phones": "138; 139", "o.a": "1; 2"}, false},
		{"not an object", `[1]`, nil, true},
		{"broken", `{"a":`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FlattenDoc([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("error %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	// Bounds: fields, value length, depth.
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + strings.Repeat("x", i) + `":"` + strings.Repeat("v", 2000) + `"`)
	}
	b.WriteString("}")
	got, err := FlattenDoc([]byte(b.String()))
	if err != nil || len(got) != MaxDocFields {
		t.Fatalf("%d fields, %v", len(got), err)
	}
	for k, v := range got {
		if len(v) > MaxValueBytes {
			t.Errorf("%s: %d bytes", k, len(v))
		}
	}
	deep := strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100)
	if got, err := FlattenDoc([]byte(deep)); err != nil || len(got) != 0 {
		t.Errorf("deep: %v, %v", got, err)
	}
}

// FuzzFlattenDoc feeds the flattener arbitrary bytes: it must not panic and
// must keep its bounds.
func FuzzFlattenDoc(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := FlattenDoc(b)
		if err != nil {
			return
		}
		if len(d) > MaxDocFields {
			t.Fatalf("%d fields", len(d))
		}
		for _, v := range d {
			if len(v) > MaxValueBytes {
				t.Fatalf("value of %d bytes", len(v))
			}
		}
	})
}
