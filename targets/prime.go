package targets

import "math/bits"

// mulmod returns a·b mod m for a, b < m, exact for any 64-bit m.
func mulmod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi == 0 {
		return lo % m
	}
	_, r := bits.Div64(hi, lo, m) // hi < m because a, b < m
	return r
}

// powmod returns b^e mod m for b < m.
func powmod(b, e, m uint64) uint64 {
	r := uint64(1) % m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulmod(r, b, m)
		}
		b = mulmod(b, b, m)
	}
	return r
}

var smallPrimes = [...]uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97}

// isPrime is a Miller–Rabin test with the first twelve primes as bases,
// which is deterministic for every n < 3.3·10^24 and so for any uint64
// (Sorenson and Webster, "Strong pseudoprimes to twelve prime bases", 2015).
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for _, p := range smallPrimes {
		if n%p == 0 {
			return n == p
		}
	}
	d, s := n-1, 0
	for d&1 == 0 {
		d >>= 1
		s++
	}
next:
	for _, a := range smallPrimes[:12] {
		x := powmod(a, d, n)
		if x == 1 || x == n-1 {
			continue
		}
		for range s - 1 {
			x = mulmod(x, x, n)
			if x == n-1 {
				continue next
			}
		}
		return false
	}
	return true
}

// safePrimeAbove returns the smallest safe prime p = 2q+1 (q prime) with
// p > n and p ≥ 5, or false when there is none below 2^64. A safe prime makes
// finding a generator of the multiplicative group mod p cheap: the group has
// order 2q, so g generates it unless g^2 = 1 or g^q = 1.
func safePrimeAbove(n uint64) (uint64, bool) {
	q := max(n/2, 2)
	for ; q < 1<<63; q++ {
		p := 2*q + 1
		if p <= n {
			continue
		}
		if q > 3 && q%6 != 5 { // otherwise 3 divides q or p
			continue
		}
		if isPrime(q) && isPrime(p) {
			return p, true
		}
	}
	return 0, false
}
