package identify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpleak"
)

// want is what identification must say about one lab service.
type want struct {
	protocol, product string
}

// labMatrix is the identification matrix of the lab: every service that
// lab/status lists, by name. Open variants run on their default ports, most
// secured ones on other ports, where no hint helps.
var labMatrix = map[string]want{
	"redis-open":                 {"redis", "Redis"},
	"redis-secured":              {"redis", "Redis"},
	"mariadb-open":               {"mysql", "MariaDB"},
	"mariadb-secured":            {"mysql", "MariaDB"},
	"postgres-open":              {"postgresql", "PostgreSQL"},
	"postgres-secured":           {"postgresql", "PostgreSQL"},
	"mongodb-open":               {"mongodb", "MongoDB"},
	"mongodb-secured":            {"mongodb", "MongoDB"},
	"memcached-open":             {"memcached", "memcached"},
	"memcached-secured":          {"memcached", "memcached"},
	"etcd-open":                  {"etcd", "etcd"},
	"etcd-secured":               {"etcd", "etcd"},
	"zookeeper-open":             {"zookeeper", "ZooKeeper"},
	"zookeeper-secured":          {"zookeeper", "ZooKeeper"},
	"influxdb-open":              {"influxdb", "InfluxDB"},
	"influxdb-secured":           {"influxdb", "InfluxDB"},
	"influxdb-noadmin":           {"influxdb", "InfluxDB"},
	"mosquitto-open":             {"mqtt", ""},
	"mosquitto-secured":          {"mqtt", ""},
	"nats-open":                  {"nats", "NATS"},
	"nats-secured":               {"nats", "NATS"},
	"clickhouse-open":            {"clickhouse", "ClickHouse"},
	"clickhouse-secured":         {"clickhouse", "ClickHouse"},
	"rabbitmq-open":              {"amqp", "RabbitMQ"},
	"rabbitmq-secured":           {"amqp", "RabbitMQ"},
	"ftp-open":                   {"ftp", "vsFTPd"},
	"ftp-secured":                {"ftp", "vsFTPd"},
	"rsync-open":                 {"rsync", "rsync"},
	"rsync-secured":              {"rsync", "rsync"},
	"registry-open":              {"docker-registry", "Docker Registry"},
	"registry-secured":           {"docker-registry", "Docker Registry"},
	"prometheus-open":            {"prometheus", "Prometheus"},
	"prometheus-secured":         {"http", ""}, // see TestMatrixPrometheusSecured
	"nginx-open":                 {"http", "nginx"},
	"nginx-secured":              {"http", "nginx"},
	"ldap-open":                  {"ldap", ""},
	"ldap-secured":               {"ldap", ""},
	"emulator-es7":               {"elasticsearch", "Elasticsearch"},
	"emulator-es8secured":        {"elasticsearch", "Elasticsearch"},
	"emulator-es6":               {"elasticsearch", "Elasticsearch"},
	"emulator-es7ransomed":       {"elasticsearch", "Elasticsearch"},
	"emulator-os2":               {"opensearch", "OpenSearch"},
	"emulator-os2secured":        {"opensearch", "OpenSearch"},
	"emulator-es8":               {"elasticsearch", "Elasticsearch"},
	"emulator-kibana7":           {"kibana", "Kibana"},
	"emulator-kibana8secured":    {"kibana", "Kibana"},
	"emulator-couchdbadminparty": {"couchdb", "CouchDB"},
	"emulator-couchdbsecured":    {"couchdb", "CouchDB"},
	"emulator-couchdb":           {"couchdb", "CouchDB"},
	"emulator-solr":              {"solr", "Solr"},
	"emulator-solrsecured":       {"solr", "Solr"},
	"pouchdb-open":               {"couchdb", "express-pouchdb"},
	"pouchdb-secured":            {"couchdb", "express-pouchdb"},
}

// labSecondPorts are lab ports that lab/status does not list on a line of
// their own.
var labSecondPorts = []struct {
	name, addr string
	want
}{
	{"rabbitmq-open-management", lab.RabbitMQOpenMgmt, want{"rabbitmq-management", "RabbitMQ"}},
	{"rabbitmq-secured-management", lab.RabbitMQSecuredMgmt, want{"rabbitmq-management", "RabbitMQ"}},
	{"clickhouse-open-native", lab.ClickHouseOpenNative, want{"clickhouse", "ClickHouse"}},
	{"clickhouse-secured-native", lab.ClickHouseSecuredNative, want{"clickhouse", "ClickHouse"}},
	{"nats-open-monitor", lab.NATSOpenMonitor, want{"http", ""}},
}

// labService is one line of lab/status.
type labService struct {
	name string
	addr netip.AddrPort
	want
}

// labServices runs lab/status and pairs every service it lists with the
// matrix; a service missing on either side fails the test.
func labServices(t *testing.T) []labService {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../lab/status").Output()
	if err != nil {
		t.Fatalf("lab/status: %v (is the lab up? run lab/up)\n%s", err, out)
	}
	var got []labService
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		ap, err := netip.ParseAddrPort(f[1])
		if err != nil {
			t.Fatalf("lab/status line %q: %v", sc.Text(), err)
		}
		w, ok := labMatrix[f[0]]
		if !ok {
			t.Errorf("lab service %s is not in the identification matrix", f[0])
			continue
		}
		seen[f[0]] = true
		got = append(got, labService{f[0], ap, w})
	}
	for name := range labMatrix {
		if !seen[name] {
			t.Errorf("matrix service %s is not in lab/status", name)
		}
	}
	for _, s := range labSecondPorts {
		got = append(got, labService{s.name, netip.MustParseAddrPort(s.addr), s.want})
	}
	return got
}

// identifyAt identifies one address with the defaults of `ajar scan`.
func identifyAt(t *testing.T, ap netip.AddrPort) ajar.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
	d := &probe.TargetDialer{Target: target, Timeout: 2 * time.Second}
	svc, err := Identify(ctx, target, d.Dial, DefaultOptions())
	if err != nil {
		t.Fatalf("Identify %s: %v", ap, err)
	}
	return svc
}

// TestMatrix is the identification matrix of issue #4: every lab service is
// identified in clear on its own port, and again through TLS (a
// TLS-terminating proxy on a port no hint names), where the protocol inside
// and the certificate must both come out. None of the lab's servers
// terminates TLS itself; STARTTLS is covered by TestStartTLS*.
func TestMatrix(t *testing.T) {
	services := labServices(t)
	selfSigned := newCert(t, "matrix.ajar.test", nil)
	ca := newCert(t, "ajar test CA", nil)
	issued := newCert(t, "matrix.ajar.test", &ca)
	for i, s := range services {
		t.Run(s.name, func(t *testing.T) {
			svc := identifyAt(t, s.addr)
			check(t, "in clear", svc, s.want, "tcp")
			switch s.protocol {
			case "postgresql", "mysql":
				// STARTTLS: a certificate exactly when the server offers TLS.
				if offered := offersTLS(t, s.addr, s.protocol); (svc.TLS != nil) != offered {
					t.Errorf("TLS offered %v, certificate read: %+v", offered, svc.TLS)
				}
			default:
				if svc.TLS != nil {
					t.Errorf("TLS summary on a service in clear: %+v", svc.TLS)
				}
			}

			cert := selfSigned
			if i%2 == 1 {
				cert = issued
			}
			front := tlsFront(t, s.addr.String(), cert)
			inside := identifyAt(t, front)
			check(t, "through TLS", inside, s.want, "tls")
			checkCert(t, inside.TLS, cert)
		})
	}
}

// check compares an identification with the matrix.
func check(t *testing.T, how string, svc ajar.Service, w want, transport string) {
	t.Helper()
	if svc.Protocol != w.protocol || w.product != "" && svc.Product != w.product {
		t.Errorf("%s: got %q/%q (banner %q), want %q/%q", how, svc.Protocol, svc.Product, svc.Banner, w.protocol, w.product)
	}
	if svc.Transport != transport {
		t.Errorf("%s: transport %q, want %q", how, svc.Transport, transport)
	}
}

// checkCert compares the TLS summary with the certificate the server sent.
func checkCert(t *testing.T, got *ajar.TLS, c testCert) {
	t.Helper()
	if got == nil {
		t.Fatal("no TLS summary")
	}
	leaf := c.leaf
	sum := sha256.Sum256(leaf.Raw)
	wantNames := []string{"matrix.ajar.test", "*.matrix.ajar.test", "127.0.20.61"}
	switch {
	case got.Version == "" || got.Cipher == "":
		t.Errorf("version %q, cipher %q", got.Version, got.Cipher)
	case got.Subject != leaf.Subject.String() || !strings.Contains(got.Subject, "CN=matrix.ajar.test"):
		t.Errorf("subject %q, want %q", got.Subject, leaf.Subject)
	case got.Issuer != leaf.Issuer.String():
		t.Errorf("issuer %q, want %q", got.Issuer, leaf.Issuer)
	case !slices.Equal(got.Names, wantNames):
		t.Errorf("names %q, want %q", got.Names, wantNames)
	case !got.NotBefore.Equal(leaf.NotBefore) || !got.NotAfter.Equal(leaf.NotAfter):
		t.Errorf("validity %s – %s, want %s – %s", got.NotBefore, got.NotAfter, leaf.NotBefore, leaf.NotAfter)
	case got.SelfSigned != c.selfSigned:
		t.Errorf("self-signed %v, want %v", got.SelfSigned, c.selfSigned)
	case got.SHA256 != hex.EncodeToString(sum[:]):
		t.Errorf("sha256 %s, want %x", got.SHA256, sum)
	}
}

// offersTLS asks the lab server itself whether it would start TLS:
// PostgreSQL answers SSLRequest with S, MySQL sets CLIENT_SSL in its
// greeting.
func offersTLS(t *testing.T, ap netip.AddrPort, protocol string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", ap.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var payload []byte
	if protocol == "postgresql" {
		payload = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	}
	b, err := talk(context.Background(), c, payload, 2*time.Second, 4096, complete)
	if len(b) == 0 {
		t.Fatalf("%s: no answer: %v", ap, err)
	}
	if protocol == "postgresql" {
		return b[0] == 'S'
	}
	return mysqlOffersTLS(b)
}

// TestMatrixPrometheusSecured: the secured Prometheus answers every path
// with 401 and a bare "WWW-Authenticate: Basic", no realm, no header of its
// own; every Go exporter behind the same web configuration answers the
// same, so naming it Prometheus would be a guess. It stays "http", and the
// generic http-leak probe, which the scan runs on every HTTP service,
// reports it protected: the scan records it as identified and refusing.
// The probe runs as the scan runs it: behind TLS, on connections the
// engine's dialer wraps in TLS.
func TestMatrixPrometheusSecured(t *testing.T) {
	lab.Require(t, lab.PrometheusSecured)
	ap := netip.MustParseAddrPort(lab.PrometheusSecured)
	cert := newCert(t, "matrix.ajar.test", nil)
	for _, tc := range []struct {
		name string
		addr netip.AddrPort
	}{
		{"in clear", ap},
		{"through TLS", tlsFront(t, ap.String(), cert)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := identifyAt(t, tc.addr)
			if svc.Protocol != "http" || svc.HTTP == nil || svc.HTTP.Status != 401 {
				t.Fatalf("identified %+v, want http answering 401", svc)
			}
			target := ajar.Target{Addr: tc.addr.Addr(), Port: tc.addr.Port()}
			d := &probe.TargetDialer{Target: target, Timeout: 2 * time.Second}
			if svc.Transport == "tls" {
				d.TLS = probe.InsecureTLS("")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := (&httpleak.Prober{}).Probe(ctx, &probe.Target{Target: target, Service: svc, Dialer: d, Options: probe.DefaultOptions()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != ajar.StatusProtected || res.Exposure != nil {
				t.Errorf("http-leak: %+v, want protected", res)
			}
		})
	}
}

// testCert is a certificate for the TLS servers of the tests.
type testCert struct {
	tls        tls.Certificate
	leaf       *x509.Certificate
	key        *ecdsa.PrivateKey
	selfSigned bool
}

// newCert makes a certificate named cn, for matrix.ajar.test and
// 127.0.20.61: signed by parent, or self-signed when parent is nil (then it
// can also sign).
func newCert(t *testing.T, cn string, parent *testCert) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ajar test lab"}},
		DNSNames:              []string{"matrix.ajar.test", "*.matrix.ajar.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.20.61")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  parent == nil,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.leaf, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if parent != nil {
		chain = append(chain, parent.leaf.Raw)
	}
	return testCert{tls: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, leaf: leaf, key: key, selfSigned: parent == nil}
}

// tlsFront runs a TLS-terminating proxy on 127.0.20.61 in front of backend
// (a lab address) until the test ends.
func tlsFront(t *testing.T, backend string, cert testCert) netip.AddrPort {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.20.61:0", &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Go(func() {
				defer track(c, false)
				relay(c, backend)
			})
		}
	})
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// relay finishes the handshake on c, then copies both ways between c and a
// new connection to backend until either side ends.
func relay(c net.Conn, backend string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.(*tls.Conn).Handshake(); err != nil {
		return
	}
	b, err := net.DialTimeout("tcp", backend, 2*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	_ = b.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
}
