package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabNATS identifies NATS from its INFO, with and without
// authorization.
func TestLabNATS(t *testing.T) {
	v := func(s string) bool { return len(s) >= 5 && s[:2] == "2." }
	identifyLab(t, lab.NATSOpen, "nats", "NATS", v)
	identifyLab(t, lab.NATSSecured, "nats", "NATS", v)
}

func TestMatchNATS(t *testing.T) {
	s, ok := matchNATS([]byte(`INFO {"server_id":"N","version":"2.9.10","auth_required":true}` + "\r\n"))
	if !ok || s.Protocol != "nats" || s.Version != "2.9.10" {
		t.Errorf("matchNATS = %+v, %v", s, ok)
	}
	if _, ok := matchNATS([]byte("+OK\r\n")); ok {
		t.Error("matched +OK")
	}
}
