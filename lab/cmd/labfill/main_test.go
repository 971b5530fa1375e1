package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, `unknown -kind ""`},
		{[]string{"-kind", "redis", "-print"}, `unknown -kind "redis"`},
		{[]string{"-kind", "etcd"}, "exactly one of"},
		{[]string{"-kind", "etcd", "-print", "-check"}, "exactly one of"},
		{[]string{"-kind", "etcd", "-check"}, "-addr is required"},
		{[]string{"-kind", "etcd", "-ping", "-addr", "127.0.0.1:1"}, "-ping is for mongodb only"},
		{[]string{"-kind", "etcd", "-print", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(tt.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("labfill %v: exit %d, %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

// TestPrint checks each seed's size and that two runs print the same bytes:
// lab/up reloads a server whenever its seed changes.
func TestPrint(t *testing.T) {
	lines := map[string]int{
		"mongodb":   lab.MongoPersons + lab.MongoCases + lab.MongoOrders,
		"memcached": 2 * (lab.MemcachedPersons + lab.MemcachedSessions),
		"etcd":      lab.EtcdPersons + lab.EtcdConfig,
		"zookeeper": 2 + lab.ZooKeeperPersons + lab.ZooKeeperConfig,
		"influxdb":  lab.InfluxPersons*lab.InfluxPoints + lab.InfluxHosts*lab.InfluxCPUPoints,
	}
	for kind, n := range lines {
		var a, b, errOut bytes.Buffer
		if run([]string{"-kind", kind, "-print"}, &a, &errOut) != 0 || run([]string{"-kind", kind, "-print"}, &b, &errOut) != 0 {
			t.Fatalf("%s: %s", kind, errOut.String())
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two runs print different seeds", kind)
		}
		if got := bytes.Count(a.Bytes(), []byte("\n")); got != n {
			t.Errorf("%s: %d lines, want %d", kind, got, n)
		}
	}
}
