package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/lab/fake"
)

var updateGolden = flag.Bool("update-breach", false, "rewrite the breach golden files under testdata/")

func writeLeak(t *testing.T, path string, o leakgen.Options) leakgen.Manifest {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := leakgen.Write(f, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update-breach to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestBreachImportAndList(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ajar.db")
	leak := filepath.Join(dir, "leak.csv.gz")
	m := writeLeak(t, leak, leakgen.Options{Format: leakfile.CSV, Gzip: true, Seed: 31, First: 1, Rows: 400, Messy: true, Chinese: true})
	code, out, errOut := ajarRun(t, "", "breach", "import", leak, "--db", db, "--name", "shanghai-test-2022", "--date", "2022-06-30",
		"--description", "fictional", "--exposure", "127.0.10.5:9200", "--json")
	if code != 0 {
		t.Fatalf("import: exit %d, %s", code, errOut)
	}
	if !strings.Contains(errOut, "rows/s") || !strings.Contains(errOut, "(100%)") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	var sum rangedb.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if sum.Rows != int64(m.Rows) || sum.Identifiers["phone"] != int64(m.Phones) || sum.Duplicates != int64(m.Duplicates) ||
		sum.Invalid["phone"].Count != int64(len(m.InvalidPhoneLines)) || sum.Columns["phone"] != "手机" {
		t.Errorf("summary %+v, manifest %+v", sum, m)
	}
	if _, err := os.Stat(db + ".breach/CURRENT"); err != nil {
		t.Errorf("the range store is not beside the main store: %v", err)
	}
	code, out, _ = ajarRun(t, "", "breach", "list", "--db", db)
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	golden(t, "breach-list.golden", out)

	// The human summary, with the variable parts blanked.
	code, out, errOut = ajarRun(t, "", "breach", "import", leak, "--breach-dir", filepath.Join(dir, "other"), "--name", "x", "--date", "2022-06-30", "--hashed")
	if code != 0 {
		t.Fatalf("import: exit %d, %s", code, errOut)
	}
	out = strings.ReplaceAll(out, dir, "DIR")
	out = regexp.MustCompile(`took +\S+`).ReplaceAllString(out, "took …")
	golden(t, "breach-import.golden", out)
	code, out, errOut = ajarRun(t, "", "-q", "breach", "import", leak, "--breach-dir", filepath.Join(dir, "q"), "--name", "x", "--date", "2022-06-30", "--hashed")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("-q import: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestBreachImportBadInput(t *testing.T) {
	dir := t.TempDir()
	bd := filepath.Join(dir, "b")
	leak := filepath.Join(dir, "leak.csv")
	writeLeak(t, leak, leakgen.Options{Format: leakfile.CSV, Seed: 1, First: 1, Rows: 50})
	trunc := filepath.Join(dir, "cut.csv.gz")
	writeLeak(t, trunc, leakgen.Options{Format: leakfile.CSV, Gzip: true, Seed: 1, First: 1, Rows: 5000})
	b, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	noCol := filepath.Join(dir, "nocol.csv")
	os.WriteFile(noCol, []byte("name,city\n王,上海\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no name", []string{leak, "--date", "2022-01-01"}, "name"},
		{"bad date", []string{leak, "--name", "x", "--date", "30/06/2022"}, "YYYY-MM-DD"},
		{"missing file", []string{filepath.Join(dir, "nope.csv"), "--name", "x", "--date", "2022-01-01"}, "nope.csv"},
		{"no column", []string{noCol, "--name", "x", "--date", "2022-01-01"}, "name, city"},
		{"named column missing", []string{leak, "--name", "x", "--date", "2022-01-01", "--phone", "tel"}, "tel"},
		{"both modes", []string{leak, "--name", "x", "--date", "2022-01-01", "--private", "--hashed"}, "not both"},
		{"bad format", []string{leak, "--name", "x", "--date", "2022-01-01", "--format", "xml"}, "xml"},
		{"bad exposure", []string{leak, "--name", "x", "--date", "2022-01-01", "--exposure", "somewhere"}, "IP:PORT"},
		{"truncated gzip", []string{trunc, "--name", "x", "--date", "2022-01-01"}, "after line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"breach", "import", "--breach-dir", bd}, tc.args...)
			code, out, errOut := ajarRun(t, "", append(args, "-q")...)
			if code != 2 || !strings.Contains(errOut, tc.msg) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line about %q", code, out, errOut, tc.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(bd, "CURRENT")); err == nil {
		t.Error("a refused import made a store")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveBreach runs "ajar breach serve" in-process on 127.0.0.1:0 and returns
// its URL.
func serveBreach(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"breach", "serve", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/breach`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return "http://" + m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", stderr.String())
	return ""
}

func TestBreachCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	bd := filepath.Join(dir, "b")
	leak := filepath.Join(dir, "leak.jsonl")
	writeLeak(t, leak, leakgen.Options{Format: leakfile.JSONL, Seed: 32, First: 1, Rows: 200})
	if code, _, errOut := ajarRun(t, "", "breach", "import", leak, "--breach-dir", bd, "--name", "jsonl-leak", "--date", "2021-01-01", "-q"); code != 0 {
		t.Fatalf("import: %d %s", code, errOut)
	}
	url := serveBreach(t, "--breach-dir", bd, "--rate-limit", "0")
	p := fake.New(32).Person(17)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"found phone", []string{p.Mobile, "--server", url}, 0, "jsonl-leak"},
		{"found formatted", []string{"+86 " + p.Mobile[:3] + "-" + p.Mobile[3:], "--server", url}, 0, "jsonl-leak"},
		{"found id", []string{strings.ToLower(p.IDNumber), "--server", url}, 0, "jsonl-leak"},
		{"found email", []string{"USER17@example.com", "--server", url}, 0, "jsonl-leak"},
		{"found locally", []string{p.Mobile, "--breach-dir", bd}, 0, "jsonl-leak"},
		{"not found", []string{"13800000000", "--server", url}, 1, "not found"},
		{"not found email", []string{"nobody@example.org", "--server", url}, 1, "not found"},
		{"bad value", []string{"hello", "--server", url}, 2, ""},
		{"bad phone", []string{"12345", "--kind", "phone", "--server", url}, 2, ""},
		{"bad id", []string{"110105194912310021", "--server", url}, 2, ""},
		{"bad kind", []string{"13800000000", "--kind", "fax", "--server", url}, 2, ""},
		{"bad region", []string{"13800000000", "--region", "ZZ", "--server", url}, 2, ""},
		{"bad server", []string{"13800000000", "--server", "127.0.0.1"}, 2, ""},
		{"server down", []string{"13800000000", "--server", "http://127.0.0.1:1"}, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := ajarRun(t, "", append([]string{"breach", "check"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.out)
			}
			if code >= 2 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error of several lines: %q", errOut)
			}
		})
	}
	limited := serveBreach(t, "--breach-dir", bd, "--rate-limit", "0.001", "--burst", "1")
	if code, _, errOut := ajarRun(t, "", "breach", "check", "13800000000", "--server", limited); code != 1 {
		t.Fatalf("first check: exit %d %s", code, errOut)
	}
	code, _, errOut := ajarRun(t, "", "breach", "check", "13800000000", "--server", limited)
	if code != 3 || !strings.Contains(errOut, "429") {
		t.Errorf("rate-limited check: exit %d, %q", code, errOut)
	}
}
