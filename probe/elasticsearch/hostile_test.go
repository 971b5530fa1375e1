package elasticsearch

import (
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
	"github.com/ajar-scan/ajar/probe/httpc/hostile"
)

// TestHostileServers checks that a misbehaving server costs the probe one
// deadline and little memory, and never a verdict of exposure.
func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	for _, b := range hostile.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := hostile.Serve(t, "127.0.21.9:0", b)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, err := run(t, addr, probe.DefaultOptions(), deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if err == nil {
				t.Errorf("no error; result %+v", res)
			}
			if b.Name == hostile.RedirectElsewhere.Name && !errors.Is(err, httpc.ErrRedirect) {
				t.Errorf("error %v, want a refused redirect", err)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open and no exposure", res)
			}
			// The byte limits, not what the server announces, bound memory.
			if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestNotACluster checks that another HTTP server is "not this protocol":
// open, with no error.
func TestNotACluster(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
	}{
		{"web page", 200, "<html><title>It works</title></html>", nil},
		{"other JSON", 200, `{"status":"ok","version":"1.2"}`, nil},
		{"kibana redirect", 302, "", map[string]string{"Location": "/app/home"}},
		{"basic auth of a proxy", 401, "Unauthorized", map[string]string{"WWW-Authenticate": `Basic realm="Restricted"`}},
		{"not found", 404, "Not Found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			res, err := run(t, addr, probe.DefaultOptions(), 2*time.Second)
			if err != nil || res.Status != ajar.StatusOpen || res.Detail == "" {
				t.Errorf("result %+v, %v; want open with a detail and no error", res, err)
			}
		})
	}
}
