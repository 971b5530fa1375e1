package identify

import (
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabMemcached identifies memcached from "version": VERSION when open,
// CLIENT_ERROR unauthenticated with SASL on (and on another port).
func TestLabMemcached(t *testing.T) {
	identifyLab(t, lab.MemcachedOpen, "memcached", "memcached", func(v string) bool { return strings.HasPrefix(v, "1.6.") })
	identifyLab(t, lab.MemcachedSecured, "memcached", "memcached", nil)
}
