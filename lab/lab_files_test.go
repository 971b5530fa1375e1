package lab_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// fileKindVars reads the LAB_*=value assignments of one kind file.
func fileKindVars(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("kinds", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasPrefix(k, "LAB_") && !strings.ContainsAny(k, " \t$") {
			vars[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

// TestFileKinds checks that the kind files of the FTP, rsync, registry,
// Prometheus, nginx and LDAP servers say what lab_*.go say.
func TestFileKinds(t *testing.T) {
	itoa := strconv.Itoa
	for file, want := range map[string]map[string]string{
		"61-ftp.sh": {"LAB_FTP_OPEN": lab.FTPOpen, "LAB_FTP_SECURED": lab.FTPSecured,
			"LAB_FTP_USER": lab.FTPUser, "LAB_FTP_PASSWORD": lab.FTPPassword},
		"62-rsync.sh": {"LAB_RSYNC_OPEN": lab.RsyncOpen, "LAB_RSYNC_SECURED": lab.RsyncSecured,
			"LAB_RSYNC_USER": lab.RsyncUser, "LAB_RSYNC_PASSWORD": lab.RsyncPassword},
		"63-registry.sh": {"LAB_REGISTRY_OPEN": lab.RegistryOpen, "LAB_REGISTRY_SECURED": lab.RegistrySecured,
			"LAB_REGISTRY_USER": lab.RegistryUser, "LAB_REGISTRY_PASSWORD": lab.RegistryPassword},
		"64-prometheus.sh": {"LAB_PROMETHEUS_OPEN": lab.PrometheusOpen, "LAB_PROMETHEUS_SECURED": lab.PrometheusSecured,
			"LAB_PROMETHEUS_USER": lab.PrometheusUser, "LAB_PROMETHEUS_PASSWORD": lab.PrometheusPassword},
		"65-nginx.sh": {"LAB_NGINX_OPEN": lab.NginxOpen, "LAB_NGINX_SECURED": lab.NginxSecured,
			"LAB_NGINX_USER": lab.NginxUser, "LAB_NGINX_PASSWORD": lab.NginxPassword},
		"66-ldap.sh": {"LAB_LDAP_OPEN": lab.LDAPOpen, "LAB_LDAP_SECURED": lab.LDAPSecured, "LAB_LDAP_BASE": lab.LDAPBase,
			"LAB_LDAP_ADMIN": lab.LDAPAdminDN, "LAB_LDAP_PASSWORD": lab.LDAPPassword,
			"LAB_LDAP_PEOPLE": itoa(lab.LDAPPeople), "LAB_LDAP_GROUPS": itoa(lab.LDAPGroups)},
	} {
		got := fileKindVars(t, file)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, lab says %q", file, k, got[k], v)
			}
		}
	}
}

// TestTrees checks the seeded trees: the same on every call, paths that
// the servers can serve, and the listing of the web root.
func TestTrees(t *testing.T) {
	for name, tree := range map[string]func() []lab.File{"ftp": lab.FTPTree, "www": lab.WebTree} {
		a, b := tree(), tree()
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%s: %d and %d files", name, len(a), len(b))
		}
		for i := range a {
			if a[i].Path != b[i].Path || string(a[i].Data) != string(b[i].Data) {
				t.Errorf("%s: %s differs between two calls", name, a[i].Path)
			}
			if strings.HasPrefix(a[i].Path, "/") || strings.Contains(a[i].Path, "..") {
				t.Errorf("%s: path %q", name, a[i].Path)
			}
		}
	}
	stats := lab.TreeStats(lab.FTPTree())
	if stats[""][0] != 1 || stats["backup"][0] != 3 || stats["pub"][0] != 2 {
		t.Errorf("FTP tree stats %v", stats)
	}
	var names []string
	for _, f := range lab.WebListing("") {
		names = append(names, f.Path)
	}
	if strings.Join(names, " ") != "db_backup.sql dump.tar.gz phpinfo.php robots.txt site.zip" {
		t.Errorf("web root listing %v", names)
	}
	for _, m := range lab.RsyncModules() {
		if len(m.Files) == 0 || strings.ContainsAny(m.Name, "/ \t") {
			t.Errorf("rsync module %+v", m.Name)
		}
	}
}
