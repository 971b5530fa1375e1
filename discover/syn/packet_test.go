package syn

import (
	"encoding/binary"
	"testing"
)

// segment builds an IPv4 packet holding a TCP header, as a host would
// answer, with correct checksums.
func segment(src, dst uint32, sport, dport uint16, seq, ack uint32, flags uint8) []byte {
	b := make([]byte, 40)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], 40)
	b[8], b[9] = 64, protoTCP
	binary.BigEndian.PutUint32(b[12:], src)
	binary.BigEndian.PutUint32(b[16:], dst)
	binary.BigEndian.PutUint16(b[10:], fold(onesSum(0, b[:20])))
	tcp := b[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[16:], fold(onesSum(pseudoSum(src, dst, 20), tcp)))
	return b
}

func TestPutSYN(t *testing.T) {
	const src, dst = 0x7f000001, 0x7f004e01
	var b [probeLen]byte
	putSYN(b[:], src, dst, 40000, 443, 0xdeadbeef)
	// A header with its checksum in place sums to all ones (RFC 1071).
	if s := fold(onesSum(0, b[:ipHeaderLen])); s != 0 {
		t.Errorf("IP checksum does not verify: %#x", s)
	}
	if s := fold(onesSum(pseudoSum(src, dst, tcpHeaderLen), b[ipHeaderLen:])); s != 0 {
		t.Errorf("TCP checksum does not verify: %#x", s)
	}
	r, ok := parseReply(b[:])
	if !ok {
		t.Fatal("parseReply refused our own SYN")
	}
	want := reply{src: src, dst: dst, sport: 40000, dport: 443, seq: 0xdeadbeef, flags: flagSYN}
	if r != want {
		t.Errorf("parsed %+v, want %+v", r, want)
	}
	if got := binary.BigEndian.Uint16(b[2:]); got != probeLen {
		t.Errorf("total length %d", got)
	}
}

func TestChecksumKnownHeader(t *testing.T) {
	// A commonly worked IPv4 header example:
	// 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7.
	h := []byte{0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7}
	if got := fold(onesSum(0, h)); got != 0xb861 {
		t.Errorf("checksum = %#x, want 0xb861", got)
	}
	if got := fold(onesSum(0, []byte{0xff})); got != 0x00ff {
		t.Errorf("odd length: checksum = %#x, want 0x00ff", got)
	}
}

func TestJudge(t *testing.T) {
	const us, them = 0x7f000001, 0x7f004e07
	s := session{src: us, sport: 40000, key: sipKey{11, 22}}
	c := s.key.cookie(them, 8080, 40000)
	for _, tc := range []struct {
		name string
		pkt  []byte
		want verdict
	}{
		{"syn-ack", segment(them, us, 8080, 40000, 777, c+1, flagSYN|flagACK), open},
		{"rst-ack", segment(them, us, 8080, 40000, 0, c+1, flagRST|flagACK), closed},
		{"rst-ack with syn", segment(them, us, 8080, 40000, 0, c+1, flagRST|flagSYN|flagACK), closed},
		{"forged ack", segment(them, us, 8080, 40000, 777, c+2, flagSYN|flagACK), notOurs},
		{"ack of the cookie itself", segment(them, us, 8080, 40000, 777, c, flagSYN|flagACK), notOurs},
		{"other port's cookie", segment(them, us, 8081, 40000, 777, c+1, flagSYN|flagACK), notOurs},
		{"other host's cookie", segment(them+1, us, 8080, 40000, 777, c+1, flagSYN|flagACK), notOurs},
		{"other source port", segment(them, us, 8080, 40001, 777, c+1, flagSYN|flagACK), notOurs},
		{"other destination", segment(them, us+1, 8080, 40000, 777, c+1, flagSYN|flagACK), notOurs},
		{"rst without ack", segment(them, us, 8080, 40000, c+1, 0, flagRST), notOurs},
		{"syn without ack", segment(them, us, 8080, 40000, 777, c+1, flagSYN), notOurs},
		{"plain ack", segment(them, us, 8080, 40000, 777, c+1, flagACK), notOurs},
		{"other key", segment(them, us, 8080, 40000, 777, sipKey{11, 23}.cookie(them, 8080, 40000)+1, flagSYN|flagACK), notOurs},
	} {
		r, ok := parseReply(tc.pkt)
		if !ok {
			t.Errorf("%s: parseReply refused a well-formed segment", tc.name)
			continue
		}
		if got := s.judge(r); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseReplyRejectsMalformed(t *testing.T) {
	good := segment(0x7f004e07, 0x7f000001, 80, 40000, 1, 2, flagSYN|flagACK)
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, pkt := range map[string][]byte{
		"empty":             nil,
		"short IP header":   good[:19],
		"IPv6":              edit(func(b []byte) []byte { b[0] = 0x65; return b }),
		"IHL below 5":       edit(func(b []byte) []byte { b[0] = 0x44; return b }),
		"IHL past the end":  edit(func(b []byte) []byte { b[0] = 0x4f; return b }),
		"UDP":               edit(func(b []byte) []byte { b[9] = 17; return b }),
		"later fragment":    edit(func(b []byte) []byte { b[7] = 1; return b }),
		"truncated TCP":     good[:30],
		"length past data":  edit(func(b []byte) []byte { b[3] = 60; return b }),
		"length below TCP":  edit(func(b []byte) []byte { b[3] = 30; return b }),
		"TCP offset 4":      edit(func(b []byte) []byte { b[32] = 4 << 4; return b }),
		"TCP offset beyond": edit(func(b []byte) []byte { b[32] = 15 << 4; return b }),
	} {
		if r, ok := parseReply(pkt); ok {
			t.Errorf("%s: accepted as %+v", name, r)
		}
	}
	if _, ok := parseReply(good); !ok {
		t.Fatal("the unedited segment was refused")
	}
}
