package resume

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWatermarkOutOfOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		w := NewWatermark(10)
		// Non-contiguous positions, finished in a random order.
		var pos []uint64
		for p := uint64(10); p < 2000; p += 1 + uint64(r.IntN(3)) {
			pos = append(pos, p)
			w.Issue(p)
		}
		order := slices.Clone(pos)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		done := map[uint64]bool{}
		for k, p := range order[:len(order)/2+trial] {
			w.Done(p)
			done[p] = true
			next := w.Next()
			// Every issued position below next is done, and next itself is not
			// (unless everything is).
			for _, q := range pos {
				if q < next && !done[q] {
					t.Fatalf("trial %d step %d: next %d passes unfinished %d", trial, k, next, q)
				}
			}
			if !done[next] && !slices.Contains(pos, next) && next != pos[len(pos)-1]+1 {
				t.Fatalf("next %d is neither issued nor one past the end", next)
			}
		}
	}
}

func TestWatermarkAllDone(t *testing.T) {
	w := NewWatermark(0)
	for p := range uint64(100) {
		w.Issue(p)
	}
	for p := uint64(99); ; p-- {
		w.Done(p)
		if p == 0 {
			break
		}
	}
	if w.Next() != 100 {
		t.Fatalf("Next = %d, want 100", w.Next())
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if s, err := Load(p); s != nil || err != nil {
		t.Fatalf("Load of a missing file: %v %v", s, err)
	}
	in := &State{Fingerprint: "abc", ScanID: "s1", Seed: 7, Next: 42, Open: []string{"127.0.10.10:6379"}}
	if err := Save(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := Load(p)
	if err != nil || out.Next != 42 || out.Seed != 7 || len(out.Open) != 1 || out.Version != Version {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("Load of a torn file succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}
