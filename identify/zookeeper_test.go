package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabZooKeeper identifies ZooKeeper from srvr, which both variants
// allow.
func TestLabZooKeeper(t *testing.T) {
	v380 := func(v string) bool { return v == "3.8.0" }
	identifyLab(t, lab.ZooKeeperOpen, "zookeeper", "ZooKeeper", v380)
	identifyLab(t, lab.ZooKeeperSecured, "zookeeper", "ZooKeeper", v380)
}

func TestMatchZooKeeper(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		version string
	}{
		{"Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nMode: standalone\n", true, "3.8.0"},
		{"Zookeeper version: 3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, built on 03/06/2019 16:18 GMT\n", true, "3.4.14"},
		{"srvr is not executed because it is not in the whitelist.\n", true, ""},
		{"HTTP/1.1 400 Bad Request\r\n", false, ""},
	} {
		svc, ok := matchZooKeeper([]byte(tc.in))
		if ok != tc.ok || svc.Version != tc.version {
			t.Errorf("matchZooKeeper(%q) = %+v, %v; want %v, %q", tc.in, svc, ok, tc.ok, tc.version)
		}
	}
}
