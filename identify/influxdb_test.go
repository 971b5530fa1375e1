package identify

import (
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabInfluxDB identifies InfluxDB from its X-Influxdb-Version header,
// which every answer carries: open, secured and waiting for its first admin.
func TestLabInfluxDB(t *testing.T) {
	v16 := func(v string) bool { return strings.HasPrefix(v, "1.6.") }
	identifyLab(t, lab.InfluxOpen, "influxdb", "InfluxDB", v16)
	identifyLab(t, lab.InfluxSecured, "influxdb", "InfluxDB", v16)
	identifyLab(t, lab.InfluxNoAdmin, "influxdb", "InfluxDB", v16)
}
