package identify

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// identifyLab identifies one lab address and checks protocol, product and
// version.
func identifyLab(t *testing.T, addr, proto, product string, version func(string) bool) {
	t.Helper()
	lab.Require(t, addr)
	ap := netip.MustParseAddrPort(addr)
	target := ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
	d := &probe.TargetDialer{Target: target, Timeout: time.Second}
	svc, err := Identify(context.Background(), target, d.Dial, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if svc.Protocol != proto || svc.Product != product || version != nil && !version(svc.Version) {
		t.Errorf("%s: got %s/%s %q, want %s/%s", addr, svc.Protocol, svc.Product, svc.Version, proto, product)
	}
}

// TestLabRabbitMQ identifies AMQP from Connection.Start on the default and
// another port, and the management UI over HTTP.
func TestLabRabbitMQ(t *testing.T) {
	semver := func(v string) bool { return len(v) >= 5 && v[0] == '3' }
	identifyLab(t, lab.RabbitMQOpen, "amqp", "RabbitMQ", semver)
	identifyLab(t, lab.RabbitMQSecured, "amqp", "RabbitMQ", semver)
	identifyLab(t, lab.RabbitMQOpenMgmt, "rabbitmq-management", "RabbitMQ", nil)
	identifyLab(t, lab.RabbitMQSecuredMgmt, "rabbitmq-management", "RabbitMQ", nil)
}

func TestMatchAMQP(t *testing.T) {
	start := []byte("\x01\x00\x00\x00\x00\x00\x40\x00\x0a\x00\x0a\x00\x09\x00\x00\x00\x2a" +
		"\x07productS\x00\x00\x00\x08RabbitMQ\x07versionS\x00\x00\x00\x063.10.8")
	for _, tc := range []struct {
		name          string
		in            []byte
		ok            bool
		product, vers string
	}{
		{"connection start", start, true, "RabbitMQ", "3.10.8"},
		{"protocol header", []byte("AMQP\x00\x00\x09\x01"), true, "", ""},
		{"other method", []byte("\x01\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x1e"), false, "", ""},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := matchAMQP(tc.in)
			if ok != tc.ok || s.Product != tc.product || s.Version != tc.vers {
				t.Errorf("matchAMQP = %+v, %v; want ok=%v %q %q", s, ok, tc.ok, tc.product, tc.vers)
			}
		})
	}
}
