package rangedb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/breach/query"
	"github.com/ajar-scan/ajar/lab/fake"
)

func leak(t testing.TB, o leakgen.Options) ([]byte, leakgen.Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := leakgen.Write(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

func importLeak(t testing.TB, dir string, data []byte, o ImportOptions) *Summary {
	t.Helper()
	if o.Date == "" {
		o.Date = "2022-06-30"
	}
	o.MemoryRecords = 1500 // several sorted runs even for small leaks
	s, err := Import(context.Background(), dir, bytes.NewReader(data), o)
	if err != nil {
		t.Fatalf("import %s: %v", o.Name, err)
	}
	return s
}

// lookup does what a client does, both modes, and returns the breach ids.
func lookup(t testing.TB, db *DB, k breach.Kind, value string) []int {
	t.Helper()
	n, _ := ident.NewNormalizer("CN")
	q, err := query.New(n, k, value)
	if err != nil {
		t.Fatal(err)
	}
	s, err := db.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	bucket, _ := breach.ParsePrefix(q.Prefix())
	hashed, err := db.Answer(s, breach.ModeHashed, bucket)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := q.MatchHashed(string(hashed))
	if err != nil {
		t.Fatal(err)
	}
	if db.Key() == nil {
		return ids
	}
	req, err := q.Blind()
	if err != nil {
		t.Fatal(err)
	}
	blinded, _ := hex.DecodeString(req.Blinded)
	ev, err := db.Evaluate(blinded)
	if err != nil {
		t.Fatal(err)
	}
	private, err := db.Answer(s, breach.ModePrivate, bucket)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := q.MatchPrivate(breach.PrivateAnswer{Suite: breach.OPRFSuite, Evaluated: hex.EncodeToString(ev), Range: string(private)})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, pids...)
	slices.Sort(ids)
	return ids
}

func TestImportFormats(t *testing.T) {
	for _, tc := range []struct {
		format leakfile.Format
		gzip   bool
	}{
		{leakfile.CSV, false}, {leakfile.CSV, true}, {leakfile.TSV, false}, {leakfile.TSV, true},
		{leakfile.JSONL, false}, {leakfile.JSONL, true},
	} {
		t.Run(fmt.Sprintf("%s gzip=%v", tc.format, tc.gzip), func(t *testing.T) {
			dir := t.TempDir()
			o := leakgen.Options{Format: tc.format, Gzip: tc.gzip, Seed: 11, First: 1, Rows: 600, Messy: true, Chinese: tc.format == leakfile.TSV}
			data, m := leak(t, o)
			s := importLeak(t, dir, data, ImportOptions{Name: "test-leak", Exposure: "127.0.10.5:9200"})
			if s.Format != string(tc.format) || s.Compressed != tc.gzip {
				t.Errorf("read as %s gzip=%v", s.Format, s.Compressed)
			}
			if s.Rows != int64(m.Rows) {
				t.Errorf("%d rows, want %d", s.Rows, m.Rows)
			}
			want := map[breach.Kind]int64{breach.KindPhone: int64(m.Phones), breach.KindID: int64(m.IDs), breach.KindEmail: int64(m.Emails)}
			if !reflect.DeepEqual(s.Identifiers, want) {
				t.Errorf("identifiers %v, want %v", s.Identifiers, want)
			}
			if s.Duplicates != int64(m.Duplicates) {
				t.Errorf("%d duplicates, want %d", s.Duplicates, m.Duplicates)
			}
			if p := s.Invalid[breach.KindPhone]; p.Count != int64(len(m.InvalidPhoneLines)) || !reflect.DeepEqual(p.Lines, m.InvalidPhoneLines[:maxLines]) {
				t.Errorf("invalid phones %+v, want lines %v", p, m.InvalidPhoneLines)
			}
			if p := s.Invalid[breach.KindID]; p.Count != int64(len(m.InvalidIDLines)) || !reflect.DeepEqual(p.Lines, m.InvalidIDLines[:maxLines]) {
				t.Errorf("invalid IDs %+v, want lines %v", p, m.InvalidIDLines)
			}
			b := s.Breach
			if b.ID != 1 || b.Exposure != "127.0.10.5:9200" || b.Identifiers[breach.KindPhone].Mode != breach.ModePrivate ||
				b.Identifiers[breach.KindEmail].Mode != breach.ModeHashed ||
				!reflect.DeepEqual(b.Classes, []string{"address", "cn_resident_id", "email", "person_name", "phone"}) {
				t.Errorf("breach %+v", b)
			}
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			g := fake.New(11)
			for i := 1; i <= 600; i += 23 {
				_, phone, id, email, _ := leakgen.Person(g, i)
				for _, v := range []struct {
					k breach.Kind
					v string
				}{{breach.KindPhone, "+86" + phone}, {breach.KindID, id}, {breach.KindEmail, email}} {
					if i%50 == 0 || i%97 == 0 && v.k == breach.KindPhone || i%89 == 0 && v.k == breach.KindID {
						continue // a repeated person, or written invalid
					}
					if got := lookup(t, db, v.k, v.v); !reflect.DeepEqual(got, []int{1}) {
						t.Errorf("person %d %s: breaches %v, want [1]", i, v.k, got)
					}
				}
			}
		})
	}
}

// TestEveryKeyFoundNoFalseMatch checks the answers of a store: every
// imported identifier is found, in an answer of the padded size; 10 000
// identifiers that were not imported match nothing.
func TestEveryKeyFoundNoFalseMatch(t *testing.T) {
	dir := t.TempDir()
	data, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 2, First: 1, Rows: 4000, PhonesOnly: true})
	importLeak(t, dir, data, ImportOptions{Name: "phones", Modes: map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed}})
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Snapshot()
	defer s.Release()
	lines, size := s.AnswerSize(breach.ModeHashed)
	if lines%PadMultiple != 0 || lines < s.Ranges(breach.ModeHashed).MaxBucket() {
		t.Errorf("answers of %d lines for a largest bucket of %d", lines, s.Ranges(breach.ModeHashed).MaxBucket())
	}
	g := fake.New(2)
	for i := 1; i <= 4000; i++ {
		d := breach.Hash(breach.KindPhone, g.Person(i).MobileE164())
		a, err := db.Answer(s, breach.ModeHashed, d.Prefix())
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != size {
			t.Fatalf("answer of %d bytes, want %d", len(a), size)
		}
		es, err := breach.ParseRange(string(a))
		if err != nil || len(es) != lines {
			t.Fatalf("answer of %d entries (%v), want %d", len(es), err, lines)
		}
		if ids := breach.Match(es, breach.HashedSuffix(d)); !reflect.DeepEqual(ids, []int{1}) {
			t.Fatalf("person %d: %v", i, ids)
		}
		if a2, _ := db.Answer(s, breach.ModeHashed, d.Prefix()); !bytes.Equal(a, a2) {
			t.Fatalf("two answers for bucket %05X differ", d.Prefix())
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	for range 10000 {
		phone := fmt.Sprintf("+86139%08d", r.IntN(100000000))
		d := breach.Hash(breach.KindPhone, phone)
		a, _ := db.Answer(s, breach.ModeHashed, d.Prefix())
		es, _ := breach.ParseRange(string(a))
		if ids := breach.Match(es, breach.HashedSuffix(d)); len(ids) > 0 {
			// A fake person may hold it; check.
			found := false
			for i := 1; i <= 4000 && !found; i++ {
				found = g.Person(i).MobileE164() == phone
			}
			if !found {
				t.Fatalf("%s matches breaches %v", phone, ids)
			}
		}
	}
}

func TestMergeAndReplace(t *testing.T) {
	dir := t.TempDir()
	a, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 4, First: 1, Rows: 1000})
	b, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 4, First: 501, Rows: 1000})
	importLeak(t, dir, a, ImportOptions{Name: "a"})
	importLeak(t, dir, b, ImportOptions{Name: "b", Modes: map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed}})
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := fake.New(4)
	check := func(i int, k breach.Kind, want []int) {
		t.Helper()
		_, phone, id, _, _ := leakgen.Person(g, i)
		v := phone
		if k == breach.KindID {
			v = id
		}
		if got := lookup(t, db, k, v); !reflect.DeepEqual(got, want) {
			t.Errorf("person %d %s: %v, want %v", i, k, got, want)
		}
	}
	check(10, breach.KindPhone, []int{1})
	check(700, breach.KindPhone, []int{1, 2}) // private in a, hashed in b
	check(700, breach.KindID, []int{1, 2})
	check(1400, breach.KindID, []int{2})
	check(2000, breach.KindID, nil)

	_, err = Import(context.Background(), dir, bytes.NewReader(a), ImportOptions{Name: "a", Date: "2022-01-01"})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("second import of a: %v", err)
	}
	c, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 4, First: 901, Rows: 200})
	importLeak(t, dir, c, ImportOptions{Name: "a", Replace: true})
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	check(10, breach.KindPhone, nil)
	check(700, breach.KindID, []int{2})
	check(950, breach.KindID, []int{1, 2})
	check(1050, breach.KindID, []int{1, 2})
	s, _ := db.Snapshot()
	defer s.Release()
	if len(s.Breaches) != 2 || s.Breaches[0].Name != "a" || s.Breaches[0].Records != 200 {
		t.Errorf("breaches after replace: %+v", s.Breaches)
	}
	ents, _ := os.ReadDir(dir)
	var gens []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), genPrefix) {
			gens = append(gens, e.Name())
		}
	}
	if len(gens) != 1 || gens[0] != s.Gen {
		t.Errorf("generations left: %v (live %s)", gens, s.Gen)
	}
	for _, f := range []string{keyFile, decoyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, st.Mode())
		}
	}
}

func TestImportRefused(t *testing.T) {
	csv := "name,phone\n王,13812345678\n"
	for _, tc := range []struct {
		name, in string
		o        ImportOptions
		want     string
	}{
		{"no name", csv, ImportOptions{Date: "2022-01-01"}, "name"},
		{"bad date", csv, ImportOptions{Name: "x", Date: "2022-13-01"}, "YYYY-MM-DD"},
		{"bad exposure", csv, ImportOptions{Name: "x", Date: "2022-01-01", Exposure: "db.example:9200"}, "IP:PORT"},
		{"bad region", csv, ImportOptions{Name: "x", Date: "2022-01-01", Region: "ZZ"}, "ZZ"},
		{"no column", "name,address\n王,上海\n", ImportOptions{Name: "x", Date: "2022-01-01"}, "name, address"},
		{"named column missing", csv, ImportOptions{Name: "x", Date: "2022-01-01", Columns: map[breach.Kind]string{breach.KindPhone: "tel"}}, "tel"},
		{"empty", "", ImportOptions{Name: "x", Date: "2022-01-01"}, "empty"},
		{"nothing valid", "phone\n123\n", ImportOptions{Name: "x", Date: "2022-01-01"}, "no valid identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Import(context.Background(), dir, strings.NewReader(tc.in), tc.o)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want an InputError about %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, currentFile)); err == nil {
				t.Error("a refused import made a generation live")
			}
		})
	}
}

// storeState is what a client can see of a store: its breaches and which
// persons of a leak are found.
func storeState(t *testing.T, dir string, seed uint64, first, rows int) (names []string, found int) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Snapshot()
	for _, b := range s.Breaches {
		names = append(names, b.Name)
	}
	s.Release()
	g := fake.New(seed)
	for i := first; i < first+rows; i += 97 {
		_, phone, _, _, _ := leakgen.Person(g, i)
		if len(lookup(t, db, breach.KindPhone, phone)) > 0 {
			found++
		}
	}
	return names, found
}

func TestTruncatedGzipChangesNothing(t *testing.T) {
	dir := t.TempDir()
	a, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 6, First: 1, Rows: 500})
	importLeak(t, dir, a, ImportOptions{Name: "a"})
	b, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Gzip: true, Seed: 6, First: 10001, Rows: 8000, PhonesOnly: true})
	cut := b[:len(b)/2]
	hashed := map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed}
	_, err := Import(context.Background(), dir, bytes.NewReader(cut), ImportOptions{Name: "b", Date: "2022-01-01", Modes: hashed})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "after line") {
		t.Fatalf("import of a truncated gzip: %v", err)
	}
	if names, found := storeState(t, dir, 6, 10001, 8000); !reflect.DeepEqual(names, []string{"a"}) || found != 0 {
		t.Fatalf("after the refused import: breaches %v, %d of b found", names, found)
	}
	s, err := Import(context.Background(), dir, bytes.NewReader(cut), ImportOptions{Name: "b", Date: "2022-01-01", AcceptTruncated: true, Modes: hashed})
	if err != nil || s.Truncated == "" || s.Rows == 0 || s.Rows >= 8000 {
		t.Fatalf("import with AcceptTruncated: %+v, %v", s, err)
	}
}

// cancelReader cancels a context once n bytes have been read.
type cancelReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestCancelLeavesStoreIntact(t *testing.T) {
	dir := t.TempDir()
	a, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 8, First: 1, Rows: 500})
	importLeak(t, dir, a, ImportOptions{Name: "a"})
	_, wantFound := storeState(t, dir, 8, 1, 500)
	b, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 8, First: 10001, Rows: 30000, PhonesOnly: true})
	for _, at := range []int{1, len(b) / 3, len(b) - 1} {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Import(ctx, dir, &cancelReader{r: bytes.NewReader(b), n: at, cancel: cancel}, ImportOptions{Name: "b", Date: "2022-01-01", MemoryRecords: 2000})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at byte %d: %v", at, err)
		}
		names, found := storeState(t, dir, 8, 1, 500)
		if !reflect.DeepEqual(names, []string{"a"}) || found != wantFound {
			t.Fatalf("cancelled at byte %d: breaches %v, %d of a found, want %d", at, names, found, wantFound)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") || (strings.HasPrefix(e.Name(), genPrefix) && e.Name() != "gen-000001") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}
}

func TestConcurrentImportRefused(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = Import(context.Background(), dir, strings.NewReader("phone\n13812345678\n"), ImportOptions{Name: "x", Date: "2022-01-01"})
	if err == nil || !strings.Contains(err.Error(), "another import") {
		t.Errorf("import while locked: %v", err)
	}
}

// TestKillLeavesStoreIntact kills an importing process at different points:
// the store is then the old one or the new one, whole, never a mixture.
func TestKillLeavesStoreIntact(t *testing.T) {
	if testing.Short() {
		t.Skip("runs importing subprocesses")
	}
	dir := t.TempDir()
	a, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 12, First: 1, Rows: 500})
	importLeak(t, dir, a, ImportOptions{Name: "a"})
	_, wantA := storeState(t, dir, 12, 1, 500)
	for _, tc := range []struct {
		phase string
		after time.Duration
	}{{"reading", 0}, {"reading", 30 * time.Millisecond}, {"merging", 0}, {"merging", 20 * time.Millisecond}, {"merging", 80 * time.Millisecond}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestImportHelper$")
		cmd.Env = append(os.Environ(), "AJAR_IMPORT_HELPER_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != tc.phase {
		}
		time.Sleep(tc.after) // a point inside the phase, not a wait for readiness
		cmd.Process.Kill()
		io.Copy(io.Discard, out)
		cmd.Wait()
		names, foundA := storeState(t, dir, 12, 1, 500)
		switch {
		case reflect.DeepEqual(names, []string{"a"}):
		case reflect.DeepEqual(names, []string{"a", "b"}):
			if _, foundB := storeState(t, dir, 13, 1, 20000); foundB != (20000+96)/97 {
				t.Errorf("killed while %s (+%v): b is live but %d of its sampled persons are found", tc.phase, tc.after, foundB)
			}
			// Start again from a store holding a only.
			dir = t.TempDir()
			importLeak(t, dir, a, ImportOptions{Name: "a"})
		default:
			t.Fatalf("killed while %s (+%v): breaches %v", tc.phase, tc.after, names)
		}
		if foundA != wantA {
			t.Errorf("killed while %s (+%v): %d persons of a found, want %d", tc.phase, tc.after, foundA, wantA)
		}
	}
}

// TestImportHelper is the process TestKillLeavesStoreIntact kills.
func TestImportHelper(t *testing.T) {
	dir := os.Getenv("AJAR_IMPORT_HELPER_DIR")
	if dir == "" {
		return // only as the subprocess of TestKillLeavesStoreIntact
	}
	data, _ := leak(t, leakgen.Options{Format: leakfile.CSV, Seed: 13, First: 1, Rows: 20000, PhonesOnly: true})
	last := ""
	_, err := Import(context.Background(), dir, bytes.NewReader(data), ImportOptions{
		Name: "b", Date: "2022-01-01", MemoryRecords: 5000, ProgressEvery: time.Millisecond,
		Modes: map[breach.Kind]breach.Mode{breach.KindPhone: breach.ModeHashed},
		Progress: func(p Progress) {
			if p.Phase != last {
				fmt.Println(p.Phase)
				last = p.Phase
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}
