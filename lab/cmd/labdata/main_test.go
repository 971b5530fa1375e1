package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

func runArgs(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"manifest", "-set", "x"}, {"tree"}, {"prometheus-config"}, {"rsync-config", "-variant", "x"}, {"bcrypt"}} {
		if code, _, _ := runArgs(t, "", args...); code != 2 {
			t.Errorf("labdata %q: exit %d, want 2", args, code)
		}
	}
}

func TestManifestAndTree(t *testing.T) {
	code, m1, _ := runArgs(t, "", "manifest", "-set", "www")
	_, m2, _ := runArgs(t, "", "manifest", "-set", "www")
	if code != 0 || m1 != m2 || strings.Count(m1, "\n") != len(lab.WebTree()) {
		t.Fatalf("manifest: exit %d, %d lines, stable %v", code, strings.Count(m1, "\n"), m1 == m2)
	}
	dir := filepath.Join(t.TempDir(), "www")
	if code, _, stderr := runArgs(t, "", "tree", "-set", "www", "-dir", dir); code != 0 {
		t.Fatalf("tree: exit %d: %s", code, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(m1), "\n") {
		f := strings.Fields(line)
		st, err := os.Stat(filepath.Join(dir, f[0]))
		if err != nil || strconv.FormatInt(st.Size(), 10) != f[1] || !st.ModTime().Equal(lab.SeededAt()) {
			t.Errorf("%s: %v, %v", f[0], st, err)
		}
	}
	if code, _, _ := runArgs(t, "", "tree", "-set", "www", "-dir", dir); code != 3 {
		t.Errorf("tree into an existing directory: exit %d, want 3", code)
	}
	_, rs, _ := runArgs(t, "", "manifest", "-set", "rsync")
	if !strings.HasPrefix(rs, "backup/db/orders.csv ") {
		t.Errorf("rsync manifest starts %q", rs[:min(len(rs), 40)])
	}
}

func TestConfigs(t *testing.T) {
	_, conf, _ := runArgs(t, "", "rsync-config", "-variant", "secured", "-dir", "/d/modules", "-secrets", "/d/s")
	if strings.Count(conf, "auth users = "+lab.RsyncUser) != len(lab.RsyncModules()) || !strings.Contains(conf, "path = /d/modules/backup") {
		t.Errorf("secured rsyncd.conf:\n%s", conf)
	}
	_, conf, _ = runArgs(t, "", "rsync-config", "-variant", "open", "-dir", "/d/modules", "-secrets", "/d/s")
	if strings.Count(conf, "auth users") != 1 {
		t.Errorf("open rsyncd.conf:\n%s", conf)
	}
	_, prom, _ := runArgs(t, "", "prometheus-config", "-self", lab.PrometheusSecured, "-user", "u", "-password", "p")
	for _, want := range []string{`targets: ["` + lab.PrometheusSecured + `"]`, `instance: "db-prod-07.internal.corp:9100"`, `username: "u"`} {
		if !strings.Contains(prom, want) {
			t.Errorf("prometheus.yml lacks %q:\n%s", want, prom)
		}
	}
	// Nothing to scrape outside loopback.
	for _, line := range strings.Split(prom, "\n") {
		if strings.Contains(line, "targets:") && !strings.Contains(line, `"127.`) {
			t.Errorf("target outside loopback: %s", line)
		}
	}
}

func TestLDIF(t *testing.T) {
	_, ldif, _ := runArgs(t, "", "ldif")
	if n := strings.Count(ldif, "\ndn: uid="); n != lab.LDAPPeople {
		t.Errorf("%d persons, want %d", n, lab.LDAPPeople)
	}
	if n := strings.Count(ldif, "objectClass: groupOfNames"); n != lab.LDAPGroups {
		t.Errorf("%d groups, want %d", n, lab.LDAPGroups)
	}
	if !strings.Contains(ldif, "cn:: ") {
		t.Error("names in Hanzi are not base64-encoded")
	}
}

func TestBcrypt(t *testing.T) {
	code, out, _ := runArgs(t, "secret\n", "bcrypt")
	if code != 0 || !strings.HasPrefix(out, "$2a$04$") {
		t.Errorf("bcrypt: exit %d, %q", code, out)
	}
}

// TestRegistryCheck runs the check lab/up runs against the lab registries.
func TestRegistryCheck(t *testing.T) {
	lab.Require(t, lab.RegistryOpen, lab.RegistrySecured)
	if code, _, stderr := runArgs(t, "", "registry-check", "-addr", lab.RegistryOpen); code != 0 {
		t.Errorf("open registry: exit %d: %s", code, stderr)
	}
	if code, _, _ := runArgs(t, "", "registry-check", "-addr", lab.RegistrySecured); code != 1 {
		t.Errorf("secured registry without a password: exit %d, want 1", code)
	}
	if code, _, stderr := runArgs(t, "", "registry-check", "-addr", lab.RegistrySecured, "-user", lab.RegistryUser, "-password", lab.RegistryPassword); code != 0 {
		t.Errorf("secured registry: exit %d: %s", code, stderr)
	}
}
