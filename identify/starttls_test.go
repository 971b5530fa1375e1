package identify

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The lab's PostgreSQL and MariaDB run without TLS (TestMatrix checks that
// no certificate is reported while they offer none), so these tests start
// throwaway servers with TLS on 127.0.20.62 and 127.0.20.63 to read the
// certificate through STARTTLS. Both refuse every login: only the TLS
// negotiation that precedes authentication is needed.

// TestStartTLSPostgreSQL: SSLRequest answered S, then the handshake on the
// same connection gives the certificate.
func TestStartTLSPostgreSQL(t *testing.T) {
	t.Parallel()
	cert := newCert(t, "matrix.ajar.test", nil)
	ap := throwawayPostgres(t, cert)
	svc := identifyAt(t, ap)
	check(t, "STARTTLS", svc, want{"postgresql", "PostgreSQL"}, "tcp")
	checkCert(t, svc.TLS, cert)
}

// TestStartTLSMariaDB: a greeting with CLIENT_SSL, answered with an
// SSLRequest packet, then the handshake gives the certificate.
func TestStartTLSMariaDB(t *testing.T) {
	t.Parallel()
	ca := newCert(t, "ajar test CA", nil)
	cert := newCert(t, "matrix.ajar.test", &ca)
	ap := throwawayMariaDB(t, cert)
	svc := identifyAt(t, ap)
	check(t, "STARTTLS", svc, want{"mysql", "MariaDB"}, "tcp")
	checkCert(t, svc.TLS, cert)
}

// throwawayPostgres runs a PostgreSQL with ssl=on on 127.0.20.62 until the
// test ends. Under root the server runs as the postgres user, as
// PostgreSQL refuses root.
func throwawayPostgres(t *testing.T, cert testCert) netip.AddrPort {
	t.Helper()
	bin := newestDir(t, "/usr/lib/postgresql/*/bin")
	cred := serviceUser(t, "postgres")
	dir := ownedTempDir(t, "ajar-identify-pg-", cred)
	data := filepath.Join(dir, "data")
	run(t, cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
		"--auth-local=reject", "--auth-host=reject", "--no-instructions")
	crt, key := writeKeyPair(t, data, cert, cred)
	ap := freeAddrPort(t, "127.0.20.62")
	// SIGINT: fast shutdown (SIGTERM would wait for clients).
	start(t, cred, syscall.SIGINT, filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses="+ap.Addr().String(), "-c", "port="+strconv.Itoa(int(ap.Port())),
		"-c", "unix_socket_directories="+dir, "-c", "ssl=on", "-c", "ssl_cert_file="+crt, "-c", "ssl_key_file="+key,
		"-c", "fsync=off", "-c", "shared_buffers=8MB", "-c", "max_connections=10")
	waitUntil(t, 60*time.Second, "", func() bool {
		c, err := net.DialTimeout("tcp", ap.String(), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		b, _ := talk(context.Background(), c, []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, time.Second, 1, complete)
		return len(b) == 1 && b[0] == 'S'
	})
	return ap
}

// throwawayMariaDB runs a MariaDB with TLS on 127.0.20.63 until the test
// ends.
func throwawayMariaDB(t *testing.T, cert testCert) netip.AddrPort {
	t.Helper()
	for _, p := range []string{"mariadbd", "mariadb-install-db"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is missing (lab/up installs mariadb-server): %v", p, err)
		}
	}
	// mariadbd runs as the test's user, root included (--user=root, as in
	// the lab). Names are resolved: the accounts are for localhost, and a
	// host without one gets an error packet instead of the greeting.
	dir := ownedTempDir(t, "ajar-identify-mariadb-", nil)
	data := filepath.Join(dir, "data")
	u := "--user=" + currentUserName(t)
	run(t, nil, "mariadb-install-db", "--no-defaults", "--datadir="+data, u, "--skip-test-db",
		"--auth-root-authentication-method=socket")
	crt, key := writeKeyPair(t, dir, cert, nil)
	ap := freeAddrPort(t, "127.0.20.63")
	start(t, nil, syscall.SIGTERM, "mariadbd", "--no-defaults", u, "--datadir="+data,
		"--socket="+filepath.Join(dir, "mysqld.sock"), "--pid-file="+filepath.Join(dir, "mariadbd.pid"),
		"--bind-address="+ap.Addr().String(), "--port="+strconv.Itoa(int(ap.Port())),
		"--skip-log-bin", "--performance-schema=OFF", "--innodb-buffer-pool-size=8M", "--innodb-log-file-size=8M",
		"--ssl-cert="+crt, "--ssl-key="+key, "--log-error="+filepath.Join(dir, "server.log"))
	waitUntil(t, 60*time.Second, filepath.Join(dir, "server.log"), func() bool {
		c, err := net.DialTimeout("tcp", ap.String(), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		b, _ := talk(context.Background(), c, nil, time.Second, 4096, complete)
		return mysqlOffersTLS(b)
	})
	return ap
}

// newestDir returns the match of pattern whose path sorts last by version.
func newestDir(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		t.Fatalf("nothing matches %s (lab/up installs the server)", pattern)
	}
	slices.SortFunc(m, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	return m[len(m)-1]
}

// serviceUser is the account a server runs as: the given system user when
// the test runs as root (database servers refuse root, or should not run
// as it), nil (the test's own user) otherwise.
func serviceUser(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func currentUserName(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// ownedTempDir makes a directory the server's user owns, removed at the end.
func ownedTempDir(t *testing.T, prefix string, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chown(t, dir, cred)
	return dir
}

func chown(t *testing.T, path string, cred *syscall.Credential) {
	t.Helper()
	if cred == nil {
		return
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
}

// writeKeyPair writes the certificate and its key as PEM files in dir,
// readable by the server's user only.
func writeKeyPair(t *testing.T, dir string, cert testCert, cred *syscall.Credential) (crt, key string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.key)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, c := range cert.tls.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	crt, key = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for f, b := range map[string][]byte{crt: chain, key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		chown(t, f, cred)
	}
	return crt, key
}

// freeAddrPort finds a port free on addr. The server binds it a moment
// later; on a test-only address nothing else competes for it.
func freeAddrPort(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// command prepares a server program run as cred, in a clean environment.
func command(ctx context.Context, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	return cmd
}

// run runs a setup program to its end.
func run(t *testing.T, cred *syscall.Credential, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := command(ctx, cred, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// start starts a server and stops it (sig, then SIGKILL) when the test
// ends.
func start(t *testing.T, cred *syscall.Credential, sig syscall.Signal, name string, args ...string) {
	t.Helper()
	cmd := command(context.Background(), cred, name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
}

// waitUntil polls ready until it holds or the time is up; then it shows
// the server's log, if it has one.
func waitUntil(t *testing.T, limit time.Duration, log string, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ready() {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			t.Fatalf("server not ready in %s\n%s", limit, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
