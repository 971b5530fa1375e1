package rangedb

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ranges"
)

// PadMultiple is the granularity of the padded bucket size: every answer of
// a store has the same number of lines, the largest bucket rounded up to a
// multiple of PadMultiple (and at least PadMultiple), and the same number of
// bytes.
const PadMultiple = 16

// shape is what every answer of one range file has in common.
type shape struct {
	lines int      // entries per answer, real and decoys
	width int      // bytes of the longest possible entry line
	ids   []string // the breach-id list of each set, as written
	cum   []int64  // cumulative entry counts of the sets, to draw decoys
}

func newShape(r *ranges.Reader) *shape {
	sh := &shape{lines: PadMultiple * max(1, (r.MaxBucket()+PadMultiple-1)/PadMultiple)}
	var total int64
	for _, s := range r.Sets() {
		b := breach.AppendEntry(nil, "", s.IDs)
		sh.ids = append(sh.ids, string(b[1:len(b)-1]))
		total += s.Count
		sh.cum = append(sh.cum, total)
	}
	sh.width = breach.SuffixLen + 1 + 1 + 1
	for _, s := range sh.ids {
		sh.width = max(sh.width, breach.SuffixLen+1+len(s)+1)
	}
	return sh
}

var emptyShape = &shape{lines: PadMultiple, width: breach.SuffixLen + 3, ids: []string{"1"}, cum: []int64{1}}

// AnswerSize returns the number of entry lines and of bytes of every answer
// in mode m.
func (s *Snapshot) AnswerSize(m breach.Mode) (lines, bytes int) {
	sh := s.shapes[m]
	if sh == nil {
		sh = emptyShape
	}
	return sh.lines, sh.lines*sh.width + 2
}

// Answer returns the padded range answer of a bucket in mode m (the format
// is described in package breach): the bucket's entries and decoys, sorted
// by suffix, then one '#' line that brings the answer to AnswerSize bytes.
// Decoys are drawn from a generator seeded by the directory's decoy key and
// the bucket, so asking twice gives the same answer and the real entries
// cannot be told from the decoys by repeating a request. A decoy's breach
// list is drawn with the frequency of the real ones.
func (db *DB) Answer(s *Snapshot, m breach.Mode, bucket uint32) ([]byte, error) {
	sh := s.shapes[m]
	if sh == nil {
		sh = emptyShape
	}
	type line struct {
		suffix string
		set    int
	}
	lines := make([]line, 0, sh.lines)
	if r := s.ranges[m]; r != nil {
		es, err := r.Bucket(bucket, nil)
		if err != nil {
			return nil, fmt.Errorf("look up bucket %s: %w", breach.FormatPrefix(bucket), err)
		}
		for _, e := range es {
			lines = append(lines, line{e.Key.Suffix(), int(e.Set)})
		}
	}
	seed := sha256.New()
	seed.Write([]byte("ajar range decoys v1\x00"))
	seed.Write(db.decoySeed()[:])
	seed.Write([]byte(m))
	binary.Write(seed, binary.BigEndian, bucket)
	var key [32]byte
	seed.Sum(key[:0])
	rng := rand.New(rand.NewChaCha8(key))
	for len(lines) < sh.lines {
		var k breach.Key
		binary.BigEndian.PutUint64(k[:8], rng.Uint64())
		binary.BigEndian.PutUint64(k[8:], rng.Uint64())
		pick := rng.Int64N(sh.cum[len(sh.cum)-1])
		set := sort.Search(len(sh.cum), func(i int) bool { return sh.cum[i] > pick })
		lines = append(lines, line{k.Suffix(), set})
	}
	slices.SortFunc(lines, func(a, b line) int { return strings.Compare(a.suffix, b.suffix) })
	_, size := s.AnswerSize(m)
	out := make([]byte, 0, size)
	for _, l := range lines {
		out = append(out, l.suffix...)
		out = append(out, ':')
		out = append(out, sh.ids[l.set]...)
		out = append(out, '\n')
	}
	pad := size - len(out) - 1
	if pad < 1 {
		return nil, fmt.Errorf("bucket %s does not fit the answer size", breach.FormatPrefix(bucket))
	}
	out = append(out, '#')
	for range pad - 1 {
		out = append(out, '.')
	}
	return append(out, '\n'), nil
}

// decoySeed returns the directory's decoy key, or a key of this process
// until an import creates one.
func (db *DB) decoySeed() *[32]byte {
	if d := db.decoy.Load(); d != nil {
		return d
	}
	return &db.ephemeral
}
