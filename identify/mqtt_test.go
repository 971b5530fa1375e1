package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabMosquitto identifies MQTT from the CONNACK, accepted (open) or
// refused (secured, on another port).
func TestLabMosquitto(t *testing.T) {
	identifyLab(t, lab.MosquittoOpen, "mqtt", "", nil)
	identifyLab(t, lab.MosquittoSecured, "mqtt", "", nil)
}

func TestMatchMQTT(t *testing.T) {
	for _, tc := range []struct {
		in []byte
		ok bool
	}{
		{[]byte{0x20, 2, 0, 0}, true},
		{[]byte{0x20, 2, 0, 5}, true},
		{[]byte{0x20, 2, 0, 9}, false},
		{[]byte{0x20, 3, 0, 0}, false},
		{[]byte("HTTP/1.1"), false},
	} {
		if _, ok := matchMQTT(tc.in); ok != tc.ok {
			t.Errorf("matchMQTT(% x) = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}
