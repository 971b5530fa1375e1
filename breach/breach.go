// Package breach holds the vocabulary of breach checking: identifier kinds,
// their hashes and range prefixes, breach metadata and the range answer format.
package breach

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of a personal identifier found in a leak.
type Kind string

// The kinds of identifier a breach is indexed by.
const (
	KindPhone Kind = "phone" // a telephone number in E.164 form
	KindID    Kind = "id"    // an 18-character PRC resident ID number
	KindEmail Kind = "email" // an e-mail address, trimmed and lower-cased
)

// Kinds lists the kinds in a fixed order.
var Kinds = []Kind{KindPhone, KindID, KindEmail}

// ParseKind returns the kind named s ("phone", "id" or "email").
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case KindPhone, KindID, KindEmail:
		return k, nil
	}
	return "", fmt.Errorf("unknown identifier kind %q: use phone, id or email", s)
}

// Class returns the data class of the kind, as in the exposure contract
// (phone, cn_resident_id, email).
func (k Kind) Class() string {
	if k == KindID {
		return "cn_resident_id"
	}
	return string(k)
}

// Mode says how a kind of identifier is indexed in the range store.
type Mode string

// The modes.
const (
	// ModeHashed stores truncated SHA-256 hashes: anyone holding a bucket can
	// test candidates offline.
	ModeHashed Mode = "hashed"
	// ModePrivate stores truncated OPRF outputs (RFC 9497) under the server's
	// key: every candidate costs one online, rate-limited evaluation.
	ModePrivate Mode = "private"
)

// Input is the byte string hashed for an identifier: "kind:" followed by the
// normalised value, e.g. "phone:+8613812345678". The same string is the OPRF
// input in private mode.
func Input(k Kind, normalised string) []byte {
	return []byte(string(k) + ":" + normalised)
}

// Digest is the SHA-256 of an identifier's Input.
type Digest [sha256.Size]byte

// Hash returns the digest of a normalised identifier.
func Hash(k Kind, normalised string) Digest {
	return sha256.Sum256(Input(k, normalised))
}

// Hex returns the digest in upper-case hex.
func (d Digest) Hex() string { return strings.ToUpper(hex.EncodeToString(d[:])) }

// Prefix returns the bucket of the digest: its first PrefixLen hex digits.
func (d Digest) Prefix() uint32 { return uint32(d[0])<<12 | uint32(d[1])<<4 | uint32(d[2])>>4 }

// Sizes of the range scheme, in hex digits and buckets.
const (
	// PrefixLen is the number of hex digits a client reveals: 20 bits.
	PrefixLen = 5
	// SuffixLen is the number of hex digits of an entry after the prefix: a
	// key holds 128 bits, 20 of prefix and 108 of suffix, which keeps the
	// chance of a false match below 2^-100 per lookup.
	SuffixLen = 27
	// Buckets is the number of prefixes.
	Buckets = 1 << (4 * PrefixLen)
)

// Key is what the range store holds for one identifier: the 20-bit bucket
// followed by a 108-bit suffix (of the SHA-256 in hashed mode, of the OPRF
// output in private mode).
type Key [16]byte

// HashedKey returns the hashed-mode key of a digest: its first 128 bits.
func HashedKey(d Digest) Key {
	var k Key
	copy(k[:], d[:16])
	return k
}

// PrivateKey returns the private-mode key: the digest's bucket followed by the
// first 108 bits of the OPRF output.
func PrivateKey(d Digest, output []byte) Key {
	var k Key
	k[0], k[1], k[2] = d[0], d[1], d[2]&0xF0|output[0]>>4
	for i := 3; i < len(k); i++ {
		k[i] = output[i-3]<<4 | output[i-2]>>4
	}
	return k
}

// Bucket returns the key's prefix.
func (k Key) Bucket() uint32 { return uint32(k[0])<<12 | uint32(k[1])<<4 | uint32(k[2])>>4 }

// Suffix returns the key's 27 hex digits after the prefix, upper case.
func (k Key) Suffix() string {
	var b [SuffixLen]byte
	for i := range SuffixLen {
		n := PrefixLen + i
		v := k[n/2]
		if n%2 == 0 {
			v >>= 4
		}
		b[i] = hexDigits[v&0xF]
	}
	return string(b[:])
}

const hexDigits = "0123456789ABCDEF"

// HashedSuffix returns the suffix a client compares in hashed mode.
func HashedSuffix(d Digest) string { return HashedKey(d).Suffix() }

// PrivateSuffix returns the suffix a client compares in private mode: the
// first 27 hex digits of the OPRF output.
func PrivateSuffix(output []byte) string {
	return strings.ToUpper(hex.EncodeToString(output[:14]))[:SuffixLen]
}

// FormatPrefix renders a bucket as 5 upper-case hex digits.
func FormatPrefix(b uint32) string { return fmt.Sprintf("%05X", b&(Buckets-1)) }

// ParsePrefix parses 5 hex digits (either case) into a bucket.
func ParsePrefix(s string) (uint32, error) {
	if len(s) != PrefixLen {
		return 0, fmt.Errorf("prefix %q: want %d hex digits", s, PrefixLen)
	}
	var b uint32
	for i := range len(s) {
		v := strings.IndexByte(hexDigits, upper(s[i]))
		if v < 0 {
			return 0, fmt.Errorf("prefix %q: %q is not a hex digit", s, s[i])
		}
		b = b<<4 | uint32(v)
	}
	return b, nil
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// Breach is the metadata of one imported leak, as /api/v1/breaches serves it.
type Breach struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Date        string `json:"date"` // YYYY-MM-DD, when the data leaked
	Description string `json:"description,omitempty"`
	// Classes are the data classes in the leak (phone, cn_resident_id,
	// email, person_name, address, …).
	Classes []string `json:"classes"`
	// Records is the number of rows read from the leak.
	Records int64 `json:"records"`
	// Identifiers counts the distinct identifiers indexed, by kind, with the
	// mode each kind is indexed in.
	Identifiers map[Kind]Indexed `json:"identifiers"`
	// Exposure is the IP:PORT of the exposed data store the leak came from,
	// when known.
	Exposure   string    `json:"exposure,omitempty"`
	ImportedAt time.Time `json:"imported_at"`
}

// Indexed says how many identifiers of one kind a breach holds, and how.
type Indexed struct {
	Count int64 `json:"count"`
	Mode  Mode  `json:"mode"`
}

// Modes returns the modes in which kind k is indexed by any of bs.
func Modes(bs []Breach, k Kind) (hashed, private bool) {
	for _, b := range bs {
		if ix, ok := b.Identifiers[k]; ok {
			switch ix.Mode {
			case ModeHashed:
				hashed = true
			case ModePrivate:
				private = true
			}
		}
	}
	return hashed, private
}
