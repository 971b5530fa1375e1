package fake

// stream is a splitmix64 generator. It is written out here rather than taken
// from math/rand so that a seed gives the same data with every Go release:
// tests and emulators compare against these values.
type stream struct{ s uint64 }

// Kinds of record; each has its own stream so that adding a field to one kind
// never shifts the values of another.
const (
	kindPerson uint64 = iota + 1
	kindCase
	kindOrder
	kindBuyer
)

func newStream(seed, kind uint64, index int) *stream {
	s := &stream{s: seed}
	s.s = s.next() ^ kind
	s.s = s.next() ^ uint64(index)
	s.next()
	return s
}

func (s *stream) next() uint64 {
	s.s += 0x9e3779b97f4a7c15
	z := s.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n). The modulo bias is below 1e-15 for the
// small n used here.
func (s *stream) intn(n int) int {
	return int(s.next() % uint64(n))
}

// between returns a value in [lo, hi].
func (s *stream) between(lo, hi int) int {
	return lo + s.intn(hi-lo+1)
}

func pick[T any](s *stream, xs []T) T {
	return xs[s.intn(len(xs))]
}
