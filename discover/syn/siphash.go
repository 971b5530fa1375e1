package syn

import (
	"encoding/binary"
	"math/bits"
)

// SipHash-2-4 (Aumasson, Bernstein, "SipHash: a fast short-input PRF",
// INDOCRYPT 2012): a keyed hash that an observer who does not know the key
// cannot predict, which makes it a sound SYN cookie.

type sipKey struct{ k0, k1 uint64 }

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

func (k sipKey) init() (uint64, uint64, uint64, uint64) {
	return k.k0 ^ 0x736f6d6570736575, k.k1 ^ 0x646f72616e646f6d,
		k.k0 ^ 0x6c7967656e657261, k.k1 ^ 0x7465646279746573
}

// compress absorbs one 64-bit word with two rounds.
func compress(v0, v1, v2, v3, m uint64) (uint64, uint64, uint64, uint64) {
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	return v0, v1, v2, v3
}

func finish(v0, v1, v2, v3 uint64) uint64 {
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sum returns SipHash-2-4 of m.
func (k sipKey) sum(m []byte) uint64 {
	v0, v1, v2, v3 := k.init()
	n := len(m)
	for ; len(m) >= 8; m = m[8:] {
		v0, v1, v2, v3 = compress(v0, v1, v2, v3, binary.LittleEndian.Uint64(m))
	}
	last := uint64(n) << 56
	for i, c := range m {
		last |= uint64(c) << (8 * i)
	}
	v0, v1, v2, v3 = compress(v0, v1, v2, v3, last)
	return finish(v0, v1, v2, v3)
}

// sum8 returns SipHash-2-4 of the 8 little-endian bytes of m, without a
// slice: the per-packet path.
func (k sipKey) sum8(m uint64) uint64 {
	v0, v1, v2, v3 := k.init()
	v0, v1, v2, v3 = compress(v0, v1, v2, v3, m)
	v0, v1, v2, v3 = compress(v0, v1, v2, v3, 8<<56)
	return finish(v0, v1, v2, v3)
}

// cookie is the sequence number of the probe to dst:dport from sport. A
// genuine answer acknowledges cookie+1 (RFC 9293 §3.4: the SYN occupies one
// sequence number).
func (k sipKey) cookie(dst uint32, dport, sport uint16) uint32 {
	return uint32(k.sum8(uint64(dst)<<32 | uint64(dport)<<16 | uint64(sport)))
}
