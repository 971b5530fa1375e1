package syn

import (
	"encoding/binary"
	"testing"
)

func TestSipHashVectors(t *testing.T) {
	// Key 00 01 … 0f and messages 00 01 … (n−1) from the reference
	// implementation's test vectors (vectors.h, SipHash-2-4, 64-bit output).
	k := sipKey{0x0706050403020100, 0x0f0e0d0c0b0a0908}
	msg := make([]byte, 16)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5},
	} {
		if got := k.sum(msg[:tc.n]); got != tc.want {
			t.Errorf("SipHash-2-4 of %d bytes = %#x, want %#x", tc.n, got, tc.want)
		}
	}
}

func TestSum8MatchesSum(t *testing.T) {
	k := sipKey{0x1234, 0xfedcba9876543210}
	for _, m := range []uint64{0, 1, 0x7f000001_0050_c350, ^uint64(0)} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], m)
		if got, want := k.sum8(m), k.sum(b[:]); got != want {
			t.Errorf("sum8(%#x) = %#x, sum = %#x", m, got, want)
		}
	}
}

func TestCookieDependsOnKeyAndFields(t *testing.T) {
	a, b := sipKey{1, 2}, sipKey{1, 3}
	base := a.cookie(0x7f004e01, 80, 40000)
	for name, c := range map[string]uint32{
		"key":         b.cookie(0x7f004e01, 80, 40000),
		"address":     a.cookie(0x7f004e02, 80, 40000),
		"port":        a.cookie(0x7f004e01, 81, 40000),
		"source port": a.cookie(0x7f004e01, 80, 40001),
	} {
		if c == base {
			t.Errorf("changing the %s left the cookie %#x unchanged", name, c)
		}
	}
}
