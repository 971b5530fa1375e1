// Command breach measures the breach range store: import rates and memory,
// lookup latency in-process and over loopback HTTP, and the same identifiers
// in a plain PostgreSQL table of hashes. It writes a Markdown report.
//
//	go run ./bench/breach -n 10000000 -out bench/results-breach.md
//	go run ./bench/breach -big 100000000 -out big.md     # disk size and import time only
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/query"
	"github.com/ajar-scan/ajar/breach/rangedb"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "import-child" {
		importChild(os.Args[2:])
		return
	}
	var (
		n        = flag.Int("n", 10_000_000, "phone numbers in the lookup store")
		privateN = flag.Int("private-n", 1_000_000, "phone numbers in the private import")
		big      = flag.Int("big", 0, "run only the large hashed import with this many phone numbers")
		work     = flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
		out      = flag.String("out", "", "write the Markdown report here too")
		pgURL    = flag.String("pg", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL to compare with (empty: skip)")
		httpDur  = flag.Duration("http", 10*time.Second, "duration of the HTTP load")
		lookups  = flag.Int("lookups", 100_000, "in-process lookups per mode")
	)
	flag.Parse()
	dir := *work
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ajar-breach-bench-"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
	}
	r := &report{}
	r.printf("# Breach range store benchmarks\n\n")
	r.printf("Machine: %d cores (%s), %s, Go %s. Synthetic Chinese mobile numbers (CSV, 90%% bare, 10%% `+86 1xx-xxxx-xxxx`), region CN.\n\n",
		runtime.NumCPU(), cpuModel(), memTotal(), runtime.Version())
	r.printf("Load average at the start (the machine is shared): %s.\n\n", loadAvg())
	if *big > 0 {
		runBig(r, dir, *big)
	} else {
		runAll(r, dir, *n, *privateN, *pgURL, *httpDur, *lookups)
	}
	r.printf("Load average at the end: %s.\n", loadAvg())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(r.String()), 0o644); err != nil {
			fail(err)
		}
	}
}

type report struct{ strings.Builder }

func (r *report) printf(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	fmt.Print(s)
	r.WriteString(s)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/breach:", err)
	os.Exit(1)
}

// prefixes are Chinese mobile number blocks libphonenumber accepts.
var prefixes = []string{"130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
	"155", "156", "157", "158", "159", "166", "172", "173", "175", "176", "177", "178", "180", "181", "182", "183",
	"184", "185", "186", "187", "188", "189", "191", "193", "195", "196", "197", "198", "199"}

// writePhones writes n synthetic phone numbers as CSV; seed picks the set.
func writePhones(path string, n int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,phone\n")
	rng := rand.New(rand.NewPCG(seed, 7))
	buf := make([]byte, 0, 64)
	for i := range n {
		p := prefixes[rng.IntN(len(prefixes))]
		sub := fmt.Sprintf("%08d", rng.IntN(100_000_000))
		buf = strconv.AppendInt(buf[:0], int64(i+1), 10)
		buf = append(buf, ',')
		if i%10 == 9 {
			buf = append(buf, "+86 "...)
			buf = append(buf, p...)
			buf = append(buf, '-')
			buf = append(buf, sub[:4]...)
			buf = append(buf, '-')
			buf = append(buf, sub[4:]...)
		} else {
			buf = append(buf, p...)
			buf = append(buf, sub...)
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// importResult is what the import child reports.
type importResult struct {
	Seconds     float64 `json:"seconds"`
	Rows        int64   `json:"rows"`
	Identifiers int64   `json:"identifiers"`
	MaxRSSKB    int64   `json:"max_rss_kb"`
	CPUSeconds  float64 `json:"cpu_seconds"`
}

// perCores is the rate the import would reach with the whole of cores
// cores: identifiers per CPU second, times cores. On a shared machine it
// says what the wall-clock rate cannot.
func (r importResult) perCores(cores int) float64 {
	if r.CPUSeconds == 0 {
		return 0
	}
	return float64(r.Identifiers) / r.CPUSeconds * float64(cores)
}

// importChild imports a file in its own process, so that its peak RSS is
// the import's alone.
func importChild(args []string) {
	fs := flag.NewFlagSet("import-child", flag.ExitOnError)
	mode := fs.String("mode", "hashed", "hashed or private")
	name := fs.String("name", "bench", "breach name")
	fs.Parse(args)
	file, dir := fs.Arg(0), fs.Arg(1)
	f, err := os.Open(file)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	start := time.Now()
	m := breach.Mode(*mode)
	s, err := rangedb.Import(context.Background(), dir, f, rangedb.ImportOptions{
		Name: *name, Date: "2024-01-01", Region: "CN",
		Modes: map[breach.Kind]breach.Mode{breach.KindPhone: m},
	})
	if err != nil {
		fail(err)
	}
	var ids int64
	for _, c := range s.Identifiers {
		ids += c
	}
	json.NewEncoder(os.Stdout).Encode(importResult{Seconds: time.Since(start).Seconds(), Rows: s.Rows, Identifiers: ids + s.Duplicates})
}

func runImport(file, dir, mode, name string) (importResult, error) {
	cmd := exec.Command(os.Args[0], "import-child", "-mode", mode, "-name", name, file, dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return importResult{}, fmt.Errorf("import child: %w", err)
	}
	var res importResult
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("import child said %q: %w", out, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKB = ru.Maxrss
		res.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return res, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

func runBig(r *report, dir string, n int) {
	file := filepath.Join(dir, "big.csv")
	t0 := time.Now()
	if err := writePhones(file, n, 100); err != nil {
		fail(err)
	}
	st, _ := os.Stat(file)
	r.printf("## Hashed import at %d identifiers\n\n", n)
	r.printf("Input: %s of CSV, written in %.0f s.\n\n", mb(st.Size()), time.Since(t0).Seconds())
	res, err := runImport(file, filepath.Join(dir, "big.breach"), "hashed", "big")
	if err != nil {
		fail(err)
	}
	size := dirSize(filepath.Join(dir, "big.breach"))
	r.printf("| identifiers | import time | rate | CPU time | peak RSS | store on disk | bytes per identifier |\n|---|---|---|---|---|---|---|\n")
	r.printf("| %d | %.0f s | %.0f /s | %.0f s | %d MB | %s | %.1f |\n\n", res.Identifiers, res.Seconds, float64(res.Identifiers)/res.Seconds,
		res.CPUSeconds, res.MaxRSSKB/1024, mb(size), float64(size)/float64(res.Identifiers))
	os.Remove(file)
}

func runAll(r *report, dir string, n, privateN int, pgURL string, httpDur time.Duration, lookups int) {
	file := filepath.Join(dir, "phones.csv")
	if err := writePhones(file, n, 1); err != nil {
		fail(err)
	}
	st, _ := os.Stat(file)
	store := filepath.Join(dir, "store.breach")
	r.printf("## Import\n\n")
	r.printf("Each import runs in a child process; peak RSS is that process's maximum resident set.\n\n")
	r.printf("| import | identifiers | input | time | identifiers/s | CPU time | identifiers per CPU-second × 2 | peak RSS | target |\n|---|---|---|---|---|---|---|---|---|\n")
	hashed, err := runImport(file, store, "hashed", "hashed-10m")
	if err != nil {
		fail(err)
	}
	r.printf("| hashed, phone normalisation | %d | %s CSV | %.1f s | %.0f | %.1f s | %.0f | %d MB | ≥ 300 000 /s, < 512 MB |\n",
		hashed.Identifiers, mb(st.Size()), hashed.Seconds, float64(hashed.Identifiers)/hashed.Seconds, hashed.CPUSeconds, hashed.perCores(2), hashed.MaxRSSKB/1024)
	pfile := filepath.Join(dir, "private.csv")
	if err := writePhones(pfile, privateN, 2); err != nil {
		fail(err)
	}
	pst, _ := os.Stat(pfile)
	private, err := runImport(pfile, store, "private", "private-sample")
	if err != nil {
		fail(err)
	}
	r.printf("| private (OPRF ristretto255), merged into the store above | %d | %s CSV | %.1f s | %.0f | %.1f s | %.0f | %d MB | ≥ 20 000 /s |\n\n",
		private.Identifiers, mb(pst.Size()), private.Seconds, float64(private.Identifiers)/private.Seconds, private.CPUSeconds, private.perCores(2), private.MaxRSSKB/1024)
	size := dirSize(store)
	r.printf("Store on disk after both: %s (%.1f bytes per identifier, with the 8 MiB index of each range file).\n\n",
		mb(size), float64(size)/float64(hashed.Identifiers+private.Identifiers))

	db, err := rangedb.Open(store)
	if err != nil {
		fail(err)
	}
	defer db.Close()
	h := api.New(db, api.Options{RateLimit: 0})
	s, _ := db.Snapshot()
	hl, hb := s.AnswerSize(breach.ModeHashed)
	pl, pb := s.AnswerSize(breach.ModePrivate)
	r.printf("## Lookups\n\n")
	r.printf("Answers: hashed %d lines (%d bytes), largest bucket %d of %d entries; private %d lines (%d bytes), largest bucket %d of %d entries.\n\n",
		hl, hb, s.Ranges(breach.ModeHashed).MaxBucket(), s.Ranges(breach.ModeHashed).Entries(),
		pl, pb, s.Ranges(breach.ModePrivate).MaxBucket(), s.Ranges(breach.ModePrivate).Entries())
	s.Release()

	rng := rand.New(rand.NewPCG(5, 5))
	// Server side: the handler called in-process, random prefixes.
	hashedLat := measure(lookups, func(i int) {
		req := httptest.NewRequest("GET", fmt.Sprintf("/api/v1/breach/range/%05X", rng.IntN(breach.Buckets)), nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			fail(fmt.Errorf("range answer %d", w.Code))
		}
	})
	bodies := blindedBodies(1000)
	privateLat := measure(lookups/5, func(i int) {
		req := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/breach/private/%05X", rng.IntN(breach.Buckets)), strings.NewReader(bodies[i%len(bodies)]))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			fail(fmt.Errorf("private answer %d: %s", w.Code, w.Body))
		}
	})
	r.printf("Server side (handler in-process, random prefixes, page cache warm):\n\n")
	r.printf("| mode | requests | p50 | p99 | p99.9 | target p99 |\n|---|---|---|---|---|---|\n")
	r.printf("| hashed range | %d | %s | %s | %s | < 1 ms |\n", len(hashedLat), pct(hashedLat, 50), pct(hashedLat, 99), pct(hashedLat, 99.9))
	r.printf("| private (OPRF evaluation + range) | %d | %s | %s | %s | < 3 ms |\n\n", len(privateLat), pct(privateLat, 50), pct(privateLat, 99), pct(privateLat, 99.9))

	// Over loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	seq := sequentialHTTP(base, 5000)
	r.printf("One client over loopback HTTP, sequential, keep-alive: p50 %s, p99 %s (%d requests).\n\n", pct(seq, 50), pct(seq, 99), len(seq))
	r.printf("Throughput over loopback (rate limit lifted, the load generator on the same 2 cores):\n\n")
	r.printf("| generator | connections | duration | requests/s | target |\n|---|---|---|---|---|\n")
	if rps, err := wrkRun(base, dir, httpDur); err == nil {
		r.printf("| wrk -t2 -c64, random prefixes | 64 | %s | %.0f | ≥ 20 000 /s |\n", httpDur, rps)
	} else {
		fmt.Fprintln(os.Stderr, "wrk:", err)
	}
	r.printf("| Go client, 64 goroutines, random prefixes | 64 | %s | %.0f | ≥ 20 000 /s |\n\n", httpDur, goLoad(base, 64, httpDur))

	if pgURL != "" {
		if err := comparePostgres(r, pgURL, file, hashed, hashedLat, seq); err != nil {
			r.printf("PostgreSQL comparison failed: %v\n\n", err)
		}
	}
}

func blindedBodies(n int) []string {
	norm, _ := ident.NewNormalizer("CN")
	rng := rand.New(rand.NewPCG(8, 8))
	out := make([]string, n)
	for i := range out {
		q, err := query.New(norm, breach.KindPhone, fmt.Sprintf("138%08d", rng.IntN(100_000_000)))
		if err != nil {
			fail(err)
		}
		req, err := q.Blind()
		if err != nil {
			fail(err)
		}
		b, _ := json.Marshal(req)
		out[i] = string(b)
	}
	return out
}

func measure(n int, f func(i int)) []time.Duration {
	lat := make([]time.Duration, n)
	for i := range n {
		t := time.Now()
		f(i)
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	return lat
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := min(len(sorted)-1, int(float64(len(sorted))*p/100))
	d := sorted[i]
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func sequentialHTTP(base string, n int) []time.Duration {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	rng := rand.New(rand.NewPCG(9, 9))
	return measure(n, func(int) {
		resp, err := c.Get(fmt.Sprintf("%s/api/v1/breach/range/%05X", base, rng.IntN(breach.Buckets)))
		if err != nil {
			fail(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
}

func goLoad(base string, conns int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	c := &http.Client{Transport: tr}
	deadline := time.Now().Add(d)
	counts := make(chan int, conns)
	for w := range conns {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			n := 0
			for time.Now().Before(deadline) {
				resp, err := c.Get(fmt.Sprintf("%s/api/v1/breach/range/%05X", base, rng.IntN(breach.Buckets)))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					n++
				}
			}
			counts <- n
		}()
	}
	total := 0
	for range conns {
		total += <-counts
	}
	return float64(total) / d.Seconds()
}

func wrkRun(base, dir string, d time.Duration) (float64, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return 0, err
	}
	script := filepath.Join(dir, "ranges.lua")
	os.WriteFile(script, []byte(`math.randomseed(7)
request = function()
  return wrk.format("GET", string.format("/api/v1/breach/range/%05X", math.random(0, 1048575)))
end
`), 0o644)
	out, err := exec.Command("wrk", "-t2", "-c64", "-d"+d.String(), "-s", script, base).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil || strings.Contains(string(out), "Non-2xx") {
		return 0, fmt.Errorf("wrk said: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// comparePostgres loads the same identifiers' keys into a bytea primary key
// and runs the same range lookups.
func comparePostgres(r *report, url, file string, ours importResult, oursLat, oursHTTP []time.Duration) error {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	dbname := fmt.Sprintf("ajar_breach_bench_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbname); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dbname+" WITH (FORCE)")
	cfg, _ := pgx.ParseConfig(url)
	cfg.Database = dbname
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var version string
	conn.QueryRow(ctx, "SHOW server_version").Scan(&version)
	// The keys, computed as the import does (not timed).
	keys, err := fileKeys(file)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE breach_hashes (h bytea PRIMARY KEY, breaches int[] NOT NULL)"); err != nil {
		return err
	}
	t0 := time.Now()
	i := 0
	ids := []int32{1}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"breach_hashes"}, []string{"h", "breaches"}, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(keys) {
			return nil, nil
		}
		k := keys[i]
		i++
		return []any{k[:], ids}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE breach_hashes"); err != nil {
		return err
	}
	copyTime := time.Since(t0)
	var relSize int64
	conn.QueryRow(ctx, "SELECT pg_total_relation_size('breach_hashes')").Scan(&relSize)
	rng := rand.New(rand.NewPCG(5, 5))
	if _, err := conn.Prepare(ctx, "range", "SELECT h, breaches FROM breach_hashes WHERE h >= $1 AND h < $2"); err != nil {
		return err
	}
	lat := measure(len(oursLat)/5, func(int) {
		b := uint32(rng.IntN(breach.Buckets))
		lo, hi := bucketBounds(b)
		rows, err := conn.Query(ctx, "range", lo, hi)
		if err != nil {
			fail(err)
		}
		for rows.Next() {
			var h []byte
			var bs []int32
			rows.Scan(&h, &bs)
		}
		rows.Close()
	})
	r.printf("## Against PostgreSQL %s\n\n", version)
	r.printf("The same %d keys (16 bytes each, computed in Go beforehand and not timed for PostgreSQL) in `breach_hashes (h bytea PRIMARY KEY, breaches int[])`, loaded with COPY, then `ANALYZE`; lookups are `h >= lo AND h < hi` for random 20-bit prefixes with a prepared statement over loopback TCP, one connection.\n\n", n)
	r.printf("| | ajar range store | PostgreSQL | ratio |\n|---|---|---|---|\n")
	r.printf("| build (ajar: whole import from CSV; PostgreSQL: COPY of ready keys + index) | %.1f s | %.1f s | PostgreSQL takes %.1f× as long |\n",
		ours.Seconds, copyTime.Seconds(), copyTime.Seconds()/ours.Seconds)
	r.printf("| size on disk | see above | %s | |\n", mb(relSize))
	r.printf("| lookup p50, server side vs PostgreSQL round trip | %s | %s | %.1f× |\n", pct(oursLat, 50), pct(lat, 50), ratio(lat, oursLat, 50))
	r.printf("| lookup p99, server side vs PostgreSQL round trip | %s | %s | %.1f× |\n", pct(oursLat, 99), pct(lat, 99), ratio(lat, oursLat, 99))
	r.printf("| lookup p50, both over loopback (ajar: HTTP GET) | %s | %s | %.1f× |\n", pct(oursHTTP, 50), pct(lat, 50), ratio(lat, oursHTTP, 50))
	r.printf("| lookup p99, both over loopback (ajar: HTTP GET) | %s | %s | %.1f× |\n\n", pct(oursHTTP, 99), pct(lat, 99), ratio(lat, oursHTTP, 99))
	return nil
}

func ratio(a, b []time.Duration, p float64) float64 {
	ia := min(len(a)-1, int(float64(len(a))*p/100))
	ib := min(len(b)-1, int(float64(len(b))*p/100))
	return float64(a[ia]) / float64(b[ib])
}

func bucketBounds(b uint32) (lo, hi []byte) {
	lo = []byte{byte(b >> 12), byte(b >> 4), byte(b << 4)}
	if b == breach.Buckets-1 {
		return lo, []byte{0xFF, 0xFF, 0xFF, 0xFF}
	}
	n := b + 1
	return lo, []byte{byte(n >> 12), byte(n >> 4), byte(n << 4)}
}

// fileKeys normalises and hashes the phone numbers of a bench CSV, distinct.
func fileKeys(file string) ([]breach.Key, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	norm, _ := ident.NewNormalizer("CN")
	sc := bufio.NewScanner(f)
	sc.Scan()
	var keys []breach.Key
	for sc.Scan() {
		_, v, _ := strings.Cut(sc.Text(), ",")
		p, err := norm.Phone(v)
		if err != nil {
			continue
		}
		keys = append(keys, breach.HashedKey(breach.Hash(breach.KindPhone, p)))
	}
	slices.SortFunc(keys, func(a, b breach.Key) int { return strings.Compare(string(a[:]), string(b[:])) })
	return slices.Compact(keys), sc.Err()
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "? GiB"
}
