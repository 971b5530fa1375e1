package ranges

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/ajar-scan/ajar/breach"
)

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.rng")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]breach.Key, 50000)
	for i := range keys {
		for j := range keys[i] {
			keys[i][j] = byte(r.Uint32())
		}
		if i%100 == 0 { // crowd one bucket
			keys[i][0], keys[i][1], keys[i][2] = 0xAB, 0xCD, 0xE0|keys[i][2]&0x0F
		}
	}
	slices.SortFunc(keys, func(a, b breach.Key) int { return bytes.Compare(a[:], b[:]) })
	keys = slices.Compact(keys)
	idsOf := func(i int) []int { return [][]int{{1}, {2}, {1, 2}, {3, 70000}}[i%4] }
	for i, k := range keys {
		if err := w.Add(k, idsOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Add(keys[0], []int{1}); err == nil {
		t.Error("a key out of order was accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if rd.Entries() != uint64(len(keys)) || len(rd.Sets()) != 4 {
		t.Fatalf("%d entries, %d sets", rd.Entries(), len(rd.Sets()))
	}
	byBucket := map[uint32]int{}
	for _, k := range keys {
		byBucket[k.Bucket()]++
	}
	most := 0
	for _, n := range byBucket {
		most = max(most, n)
	}
	if rd.MaxBucket() != most {
		t.Errorf("largest bucket %d, want %d", rd.MaxBucket(), most)
	}
	for i, k := range keys {
		es, err := rd.Bucket(k.Bucket(), nil)
		if err != nil {
			t.Fatal(err)
		}
		j := slices.IndexFunc(es, func(e Entry) bool { return e.Key == k })
		if j < 0 || !reflect.DeepEqual(rd.Sets()[es[j].Set].IDs, idsOf(i)) || len(es) != byBucket[k.Bucket()] {
			t.Fatalf("key %d (%X) not found with its breaches in %d entries", i, k, len(es))
		}
	}
	if es, _ := rd.Bucket(0xFFFFF, nil); len(es) != byBucket[0xFFFFF] {
		t.Errorf("last bucket: %d entries", len(es))
	}
	sc := rd.Scan()
	n := 0
	for sc.Next() {
		if sc.Entry().Key != keys[n] {
			t.Fatalf("scan entry %d: %X, want %X", n, sc.Entry().Key, keys[n])
		}
		n++
	}
	if sc.Err() != nil || n != len(keys) {
		t.Fatalf("scan: %d entries, %v", n, sc.Err())
	}
}

func TestEmptyAndDamaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.rng")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if es, err := rd.Bucket(12345, nil); err != nil || len(es) != 0 || rd.Scan().Next() {
		t.Errorf("empty file: %v, %v", es, err)
	}
	rd.Close()
	bad := filepath.Join(dir, "bad.rng")
	os.WriteFile(bad, []byte("AJARRNG1 but short"), 0o644)
	if _, err := Open(bad); err == nil {
		t.Error("a damaged file opened")
	}
}
