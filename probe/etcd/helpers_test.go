package etcd

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/probetest"
)

// run probes addr; anyAddr lets the dialer reach any address.
func run(t *testing.T, addr string, timeout time.Duration, anyAddr ...bool) (*probe.Result, *probetest.TapDialer, error) {
	t.Helper()
	return probetest.Run(t, "etcd", addr, timeout, len(anyAddr) > 0 && anyAddr[0])
}

func serve(t *testing.T, addr string, handle func(net.Conn)) (string, func() int) {
	t.Helper()
	return probetest.Serve(t, addr, handle)
}

func serveHTTP(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	return probetest.ServeHTTP(t, addr, h)
}
