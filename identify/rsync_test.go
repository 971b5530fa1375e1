package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabRsync identifies the rsync daemon from its greeting; the secured
// one greets the same.
func TestLabRsync(t *testing.T) {
	v := func(s string) bool { return len(s) > len("protocol ") && s[:9] == "protocol " }
	identifyLab(t, lab.RsyncOpen, "rsync", "rsync", v)
	identifyLab(t, lab.RsyncSecured, "rsync", "rsync", v)
}

func TestMatchRsync(t *testing.T) {
	s, ok := matchRsync([]byte("@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n"))
	if !ok || s.Protocol != "rsync" || s.Version != "protocol 31.0" {
		t.Errorf("matchRsync = %+v, %v", s, ok)
	}
	if _, ok := matchRsync([]byte("@ERROR: max connections reached\n")); ok {
		t.Error("matched an @ERROR line")
	}
}
