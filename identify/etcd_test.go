package identify

import (
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabEtcd identifies etcd from GET /version, which answers with
// authentication on too.
func TestLabEtcd(t *testing.T) {
	v34 := func(v string) bool { return strings.HasPrefix(v, "3.4.") }
	identifyLab(t, lab.EtcdOpen, "etcd", "etcd", v34)
	identifyLab(t, lab.EtcdSecured, "etcd", "etcd", v34)
}
