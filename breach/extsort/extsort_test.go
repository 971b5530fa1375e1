package extsort

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestSorted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, limit int
	}{
		{"empty", 0, 1024},
		{"in memory", 5000, 10000},
		{"one run", 1024, 1024},
		{"many runs", 20000, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t.TempDir(), tc.limit)
			defer s.Close()
			r := rand.New(rand.NewPCG(1, uint64(tc.n)))
			want := map[Record]int{}
			for i := range tc.n {
				var rec Record
				for j := range rec.Key {
					rec.Key[j] = byte(r.Uint32())
				}
				if i%10 == 0 && i > 0 {
					rec.Key[0] = 0 // duplicates and near-duplicates
					rec.Key[1] = byte(i % 3)
					for j := 2; j < 16; j++ {
						rec.Key[j] = 0
					}
				}
				rec.Tag = byte(i % 3)
				want[rec]++
				if err := s.Add(rec); err != nil {
					t.Fatal(err)
				}
			}
			it, err := s.Sorted()
			if err != nil {
				t.Fatal(err)
			}
			var prev Record
			n := 0
			for it.Next() {
				rec := it.Record()
				if n > 0 {
					c := bytes.Compare(prev.Key[:], rec.Key[:])
					if c > 0 || (c == 0 && prev.Tag > rec.Tag) {
						t.Fatalf("record %d out of order", n)
					}
				}
				want[rec]--
				prev = rec
				n++
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			if n != tc.n {
				t.Errorf("%d records, want %d", n, tc.n)
			}
			for rec, c := range want {
				if c != 0 {
					t.Fatalf("record %x seen %d times too few", rec.Key, c)
				}
			}
		})
	}
}
