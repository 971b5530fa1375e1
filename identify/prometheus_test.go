package identify

import (
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabPrometheus identifies Prometheus from /api/v1/status/buildinfo.
// Behind basic authentication every path answers a bare 401 with nothing
// that names Prometheus: it is a web server that wants a password, and the
// HTTP probes report it protected.
func TestLabPrometheus(t *testing.T) {
	identifyLab(t, lab.PrometheusOpen, "prometheus", "Prometheus", func(v string) bool { return strings.HasPrefix(v, "2.") })
	identifyLab(t, lab.PrometheusSecured, "http", "", nil)
}

// TestLabNginx: the lab's web servers are plain HTTP, their product taken
// from the Server header.
func TestLabNginx(t *testing.T) {
	identifyLab(t, lab.NginxOpen, "http", "nginx", nil)
	identifyLab(t, lab.NginxSecured, "http", "nginx", nil)
}
