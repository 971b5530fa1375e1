package lab_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestStoresEnv checks that the kind files of the lab's stores (40–49),
// which hold their own addresses and passwords, say what lab_<kind>.go says.
func TestStoresEnv(t *testing.T) {
	files, err := filepath.Glob("kinds/4[0-9]-*.sh")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kind files 40–49: %v", err)
	}
	assign := regexp.MustCompile(`(?m)^(LAB_[A-Z0-9_]+)=(\S+)$`)
	env := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range assign.FindAllStringSubmatch(string(b), -1) {
			env[m[1]] = m[2]
		}
	}
	want := map[string]string{
		"LAB_MONGO_OPEN":         lab.MongoOpen,
		"LAB_MONGO_SECURED":      lab.MongoSecured,
		"LAB_MONGO_USER":         lab.MongoUser,
		"LAB_MONGO_PASSWORD":     lab.MongoPassword,
		"LAB_MEMCACHED_OPEN":     lab.MemcachedOpen,
		"LAB_MEMCACHED_SECURED":  lab.MemcachedSecured,
		"LAB_MEMCACHED_USER":     lab.MemcachedUser,
		"LAB_MEMCACHED_PASSWORD": lab.MemcachedPassword,
		"LAB_ETCD_OPEN":          lab.EtcdOpen,
		"LAB_ETCD_SECURED":       lab.EtcdSecured,
		"LAB_ETCD_PASSWORD":      lab.EtcdPassword,
		"LAB_ZOOKEEPER_OPEN":     lab.ZooKeeperOpen,
		"LAB_ZOOKEEPER_SECURED":  lab.ZooKeeperSecured,
		"LAB_ZOOKEEPER_USER":     lab.ZooKeeperUser,
		"LAB_ZOOKEEPER_PASSWORD": lab.ZooKeeperPassword,
		"LAB_INFLUX_OPEN":        lab.InfluxOpen,
		"LAB_INFLUX_SECURED":     lab.InfluxSecured,
		"LAB_INFLUX_NOADMIN":     lab.InfluxNoAdmin,
		"LAB_INFLUX_USER":        lab.InfluxUser,
		"LAB_INFLUX_PASSWORD":    lab.InfluxPassword,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("lab/kinds: %s=%q, lab_*.go says %q", k, env[k], v)
		}
	}
}
