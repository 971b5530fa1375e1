package syn

import (
	"encoding/binary"
	"testing"
)

// FuzzParseReply feeds arbitrary bytes, as a hostile network could, to the
// reply parser and the cookie check: neither may panic, and nothing but a
// segment that acknowledges the cookie may count as an answer.
func FuzzParseReply(f *testing.F) {
	s := session{src: 0x7f000001, sport: 40000, key: sipKey{0x0123456789abcdef, 0xfedcba9876543210}}
	c := s.key.cookie(0x7f004e01, 22, 40000)
	f.Add(segment(0x7f004e01, 0x7f000001, 22, 40000, 5, c+1, flagSYN|flagACK))
	f.Add(segment(0x7f004e01, 0x7f000001, 22, 40000, 0, c+1, flagRST|flagACK))
	f.Add(segment(0x7f004e01, 0x7f000001, 22, 40000, 5, c+7, flagSYN|flagACK))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseReply(b)
		if !ok {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if total := int(binary.BigEndian.Uint16(b[2:])); total > len(b) || ihl < 20 || total < ihl+20 {
			t.Fatalf("accepted a packet whose lengths do not hold: ihl %d total %d len %d", ihl, total, len(b))
		}
		if v := s.judge(r); v != notOurs {
			if r.ack != s.key.cookie(r.src, r.sport, s.sport)+1 || r.dport != s.sport || r.dst != s.src {
				t.Fatalf("verdict %d for a segment that does not acknowledge the cookie: %+v", v, r)
			}
		}
	})
}
