// Command cluster measures cluster mode on loopback: one coordinator, 1, 2
// and 4 `ajar worker` processes, NATS and PostgreSQL on this machine.
//
//	go run ./bench/cluster -ajar bin/ajar
//
// It opens a few hundred listeners on 127.0.78.0/24 — two thirds answer as an
// Elasticsearch cluster without credentials (an exposure each), the rest
// accept and close — and scans 127.0.78.0/24, 127.0.79.0/24 and the lab's
// first 32 addresses, on ports 1-1500 (-ports) and every probe's default ports, once per worker count, each time into a new
// database. It prints a Markdown table: targets per second, exposures
// stored per second, and the store's latency as the workers saw it.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar/cluster"
	"github.com/ajar-scan/ajar/probe"
	_ "github.com/ajar-scan/ajar/probe/all"
	"github.com/ajar-scan/ajar/store/postgres"
	"github.com/ajar-scan/ajar/targets"
)

func main() {
	var (
		bin       = flag.String("ajar", "bin/ajar", "the ajar binary the workers run")
		natsURL   = flag.String("nats", "nats://127.0.0.1:4222", "NATS server with JetStream")
		pgHost    = flag.String("pg", "127.0.0.1:5432", "PostgreSQL server (user postgres, trust auth); a database is created and dropped per run")
		counts    = flag.String("workers", "1,2,4", "worker counts to measure")
		listeners = flag.Int("listeners", 300, "listeners to open on 127.0.78.0/24")
		shards    = flag.Int("shards", 64, "shards per scan")
		conc      = flag.Int("concurrency", 256, "connection attempts in flight per worker")
		portRange = flag.String("ports", "1-1500", "ports scanned on every address, besides every probe's default ports")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *natsURL, *pgHost, *counts, *portRange, *listeners, *shards, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

type result struct {
	workers                  int
	targets, events, exposed int64
	elapsed                  time.Duration
	recordMean               time.Duration
	records                  int64
}

func run(ctx context.Context, bin, natsURL, pgHost, counts, portRange string, nListeners, shards, conc int) error {
	var ns []int
	for _, s := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("-workers %q: want counts like 1,2,4", counts)
		}
		ns = append(ns, n)
	}
	esCount, err := openListeners(ctx, nListeners)
	if err != nil {
		return err
	}
	ports := []string{portRange}
	for _, p := range probe.DataPorts() {
		ports = append(ports, strconv.Itoa(int(p)))
	}
	portList, err := targets.ParsePorts(strings.Join(ports, ","), nil)
	if err != nil {
		return err
	}
	sp, err := targets.Build(ctx, targets.Spec{
		Include: targets.Entries("127.0.78.0/24", "127.0.79.0/24", "127.0.10.0/27"),
		Ports:   portList,
	})
	if err != nil {
		return err
	}
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "space: %d targets (%d addresses × %d ports), %d shards; %d listeners, %d of them answer as Elasticsearch\n",
		sp.Size(), sp.Addresses(), len(sp.Ports()), shards, nListeners, esCount)

	var results []result
	for _, n := range ns {
		r, err := measure(ctx, js, bin, natsURL, pgHost, sp, n, shards, conc)
		if err != nil {
			return fmt.Errorf("%d workers: %w", n, err)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%d workers: %d targets in %s\n", n, r.targets, r.elapsed.Round(time.Millisecond))
	}
	fmt.Println("| workers | targets | seconds | targets/s | targets/s per worker | events stored | exposures | exposures/s | store write (mean) |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		secs := r.elapsed.Seconds()
		fmt.Printf("| %d | %d | %.1f | %.0f | %.0f | %d | %d | %.1f | %.1f ms |\n", r.workers, r.targets, secs,
			float64(r.targets)/secs, float64(r.targets)/secs/float64(r.workers), r.events, r.exposed,
			float64(r.exposed)/secs, float64(r.recordMean.Microseconds())/1000)
	}
	return nil
}

// measure runs one scan of sp on n workers, each a process of bin, into a
// new database.
func measure(ctx context.Context, js jetstream.JetStream, bin, natsURL, pgHost string, sp *targets.Space, n, shards, conc int) (result, error) {
	res := result{workers: n}
	db := fmt.Sprintf("ajar_bench_cluster_%d_%d", n, time.Now().UnixNano())
	admin := "postgres://postgres@" + pgHost + "/postgres?sslmode=disable"
	if err := pgExec(ctx, admin, "CREATE DATABASE "+db); err != nil {
		return res, fmt.Errorf("create database: %w", err)
	}
	defer pgExec(context.WithoutCancel(ctx), admin, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	dsn := "postgres://postgres@" + pgHost + "/" + db + "?sslmode=disable"
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer st.Close()

	var workers []*exec.Cmd
	var metrics []string
	defer func() {
		for _, w := range workers {
			_ = w.Process.Signal(syscall.SIGTERM)
			_ = w.Wait()
		}
	}()
	for i := range n {
		addr, err := freeAddr()
		if err != nil {
			return res, err
		}
		w := exec.CommandContext(ctx, bin, "worker", "--nats", natsURL, "--store", dsn, "-q",
			"--name", fmt.Sprintf("bench-%d-%d", n, i+1), "--concurrency", strconv.Itoa(conc),
			"--metrics", addr, "--drain", "0s")
		w.Stderr = os.Stderr
		if err := w.Start(); err != nil {
			return res, fmt.Errorf("start worker: %w", err)
		}
		workers = append(workers, w)
		metrics = append(metrics, "http://"+addr+"/metrics")
	}
	for _, m := range metrics {
		if err := waitHTTP(ctx, m); err != nil {
			return res, err
		}
	}
	// Every worker waits a few seconds after it joins before its first
	// shard (see cluster's rate sharing); start the clock after that.
	time.Sleep(4 * time.Second)

	spec := cluster.NewSpec(sp, nil)
	spec.Seed, spec.Shards = rand.Uint64(), shards
	spec.Timeout, spec.Retries, spec.ProbeTimeout, spec.Samples, spec.CountCap = 2*time.Second, 1, 30*time.Second, 5, 1_000_000
	c := &cluster.Coordinator{JS: js, Store: st, Logger: slog.New(slog.DiscardHandler), Transient: postgres.IsTransient}
	id := fmt.Sprintf("bench-%d-%d", n, time.Now().Unix())
	start := time.Now()
	if _, err := c.Start(ctx, id, "bench/cluster", spec); err != nil {
		return res, err
	}
	sc, err := c.Follow(ctx, id, nil)
	if err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)
	res.targets, res.exposed = sc.Progress.Targets, sc.Progress.Exposed
	res.events = sc.Progress.Open + sc.Progress.Exposed + sc.Progress.Protected + sc.Progress.Closed
	var sum float64
	for _, m := range metrics {
		vals, err := scrape(ctx, m)
		if err != nil {
			return res, err
		}
		sum += vals[`ajar_worker_store_seconds_sum{op="record"}`]
		res.records += int64(vals[`ajar_worker_store_seconds_count{op="record"}`])
	}
	if res.records > 0 {
		res.recordMean = time.Duration(sum / float64(res.records) * float64(time.Second))
	}
	return res, nil
}

// openListeners opens count listeners on random addresses of 127.0.78.0/24
// and random ports of 1-480; two thirds answer as an Elasticsearch cluster
// that needs no credentials, the others accept and close.
func openListeners(ctx context.Context, count int) (es int, err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, `{"name":"bench","cluster_name":"bench","version":{"number":"7.17.9"},"tagline":"You Know, for Search"}`)
		case r.URL.Path == "/_cat/indices":
			fmt.Fprint(w, `[{"index":"customers","docs.count":"1200","pri.store.size":"480000","store.size":"480000"}]`)
		case strings.HasSuffix(r.URL.Path, "/_mapping"):
			fmt.Fprint(w, `{"customers":{"mappings":{"properties":{"name":{"type":"text"},"email":{"type":"keyword"}}}}}`)
		case strings.HasSuffix(r.URL.Path, "/_search"):
			fmt.Fprint(w, `{"hits":{"hits":[{"_index":"customers","_source":{"name":"Ann Example","email":"ann@example.test"}}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not found","status":404}`)
		}
	})
	used := map[netip.AddrPort]bool{}
	for i := 0; i < count; {
		ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 78, byte(1 + rand.IntN(254))}), uint16(1+rand.IntN(480)))
		if used[ap] {
			continue
		}
		l, err := net.Listen("tcp", ap.String())
		if err != nil {
			continue // taken by something else: pick another
		}
		used[ap] = true
		i++
		if i%3 != 0 {
			es++
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(l)
			continue
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return es, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("worker metrics at %s: %w", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads the samples of a Prometheus text page, by name and labels.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

func pgExec(ctx context.Context, dsn, sql string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}
