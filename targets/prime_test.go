package targets

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestIsPrime(t *testing.T) {
	const limit = 100_000
	composite := make([]bool, limit)
	for i := 2; i < limit; i++ {
		for j := 2 * i; j < limit; j += i {
			composite[j] = true
		}
	}
	for n := range uint64(limit) {
		if want := n >= 2 && !composite[n]; isPrime(n) != want {
			t.Errorf("isPrime(%d) = %v", n, !want)
		}
	}
	tests := []struct {
		n     uint64
		prime bool
	}{
		{1<<61 - 1, true},            // Mersenne prime
		{1<<64 - 59, true},           // largest prime below 2^64
		{1<<63 - 25, true},           // largest prime below 2^63
		{1<<64 - 1, false},           // 3 · 5 · 17 · 257 · 641 · 65537 · 6700417
		{3215031751, false},          // strong pseudoprime to bases 2, 3, 5, 7
		{3825123056546413051, false}, // strong pseudoprime to bases 2 … 23
	}
	for _, tt := range tests {
		if isPrime(tt.n) != tt.prime {
			t.Errorf("isPrime(%d) = %v", tt.n, !tt.prime)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := r.Uint64() | 1
		if want := new(big.Int).SetUint64(n).ProbablyPrime(20); isPrime(n) != want {
			t.Errorf("isPrime(%d) = %v, math/big says %v", n, !want, want)
		}
	}
}

func TestMulmod(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		m := r.Uint64() | 1
		if r.IntN(2) == 0 {
			m >>= r.IntN(63)
			m |= 1
		}
		a, b := r.Uint64()%m, r.Uint64()%m
		want := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
		want.Mod(want, new(big.Int).SetUint64(m))
		if got := mulmod(a, b, m); got != want.Uint64() {
			t.Fatalf("mulmod(%d, %d, %d) = %d, want %v", a, b, m, got, want)
		}
	}
}

func TestSafePrimeAbove(t *testing.T) {
	safe := func(p uint64) bool { return p >= 5 && isPrime(p) && isPrime((p-1)/2) }
	for n := range uint64(3000) {
		p, ok := safePrimeAbove(n)
		if !ok || !safe(p) || p <= n {
			t.Fatalf("safePrimeAbove(%d) = %d, %v", n, p, ok)
		}
		for c := max(n+1, 5); c < p; c++ {
			if safe(c) {
				t.Fatalf("safePrimeAbove(%d) = %d, but %d is smaller", n, p, c)
			}
		}
	}
	for _, n := range []uint64{1 << 32, 1<<63 - 1, 1 << 63, 1<<64 - 1<<20} {
		p, ok := safePrimeAbove(n)
		if !ok || !safe(p) || p <= n {
			t.Errorf("safePrimeAbove(%d) = %d, %v", n, p, ok)
		}
	}
	if p, ok := safePrimeAbove(1<<64 - 1); ok {
		t.Errorf("safePrimeAbove(2^64-1) = %d", p)
	}
}
