package rsync

import (
	"bytes"
	"testing"
)

// FuzzFileList feeds a multiplexed stream to the file list reader: it must
// end with an entry count within bounds, never with a panic or a name
// longer than the daemon's limit.
func FuzzFileList(f *testing.F) {
	f.Add([]byte("\x3b\x00\x00\x07\x19\x01.\x00\x10\x00\x00\x98\xe9\x06k\xedA\x00\x00\x9a\x03sub\x00\x10\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl := &flistReader{r: &muxReader{r: bytes.NewReader(data), budget: 1 << 16}, protocol: 29}
		for range 10000 {
			e, err := fl.next()
			if err != nil {
				return
			}
			if len(e.Name) > maxPath || e.Size < 0 {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

func FuzzTextPhase(f *testing.F) {
	f.Add("@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4")
	f.Add("backup         \tnightly database dumps")
	f.Fuzz(func(t *testing.T, line string) {
		if g, err := parseGreeting(line); err == nil && (g.Protocol < 1 || len(g.Version) > 16) {
			t.Fatalf("greeting %+v", g)
		}
		if m, ok := parseModuleLine(line); ok && !safeModule(m.Name) {
			t.Fatalf("unsafe module name %q accepted", m.Name)
		}
	})
}
