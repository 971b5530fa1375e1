// Command serve benchmarks the search API: it fills a store with synthetic
// exposures (once; the file is reused) and measures the latency of typical
// queries with facets through HTTP on loopback.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/server"
	"github.com/ajar-scan/ajar/store/sqlite"
)

var (
	n     = flag.Int("n", 1_000_000, "exposures in the store")
	db    = flag.String("db", "/var/tmp/ajar-bench-serve.db", "store file (filled once, then reused)")
	runs  = flag.Int("runs", 60, "runs of each query")
	limit = flag.Duration("target", 200*time.Millisecond, "p99 target")
)

var (
	protocols = []string{"elasticsearch", "redis", "mongodb", "mysql", "postgresql", "memcached", "couchdb", "ftp"}
	providers = []string{"alibaba", "aws", "tencent", "google", "azure", "huawei", "hetzner", "ovh", ""}
	countries = []string{"CN", "US", "DE", "SG", "FR", "BR", "IN", "JP"}
	classSets = [][]string{nil, {"phone"}, {"phone", "cn_resident_id", "address"}, {"email"}, {"credential"}, {"person_name", "phone"}}
	statuses  = []ajar.Status{ajar.StatusExposed, ajar.StatusExposed, ajar.StatusProtected, ajar.StatusClosed, ajar.StatusOpen}
)

func fill(ctx context.Context, st *sqlite.Store, have, want int) {
	r := rand.New(rand.NewPCG(1, uint64(have)))
	start := time.Now()
	t0 := time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC)
	for i := have; i < want; i++ {
		a := netip.AddrFrom4([4]byte{byte(1 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
		p := protocols[r.IntN(len(protocols))]
		ev := ajar.Event{Schema: ajar.Schema, Time: t0.Add(time.Duration(r.IntN(365*24)) * time.Hour),
			Target: ajar.Target{Addr: a, Port: uint16(1000 + r.IntN(9000))}, Plugin: p,
			Service: ajar.Service{Transport: "tcp", Protocol: p, Product: p, Version: fmt.Sprintf("%d.%d", r.IntN(9), r.IntN(20))},
			Status:  statuses[r.IntN(len(statuses))],
			Attribution: &ajar.Attribution{Provider: providers[r.IntN(len(providers))], Country: countries[r.IntN(len(countries))],
				ASN: uint32(1000 + r.IntN(200))}}
		if ev.Status == ajar.StatusExposed || ev.Status == ajar.StatusClosed {
			rec := int64(r.ExpFloat64() * 50000)
			ev.Exposure = &ajar.Exposure{Plugin: p, Access: ajar.AccessRead, Records: rec, Bytes: rec * 300,
				Classes: classSets[r.IntN(len(classSets))], Severity: ajar.SeverityHigh,
				Datasets: []ajar.Dataset{{Name: fmt.Sprintf("table_%d", r.IntN(50)), Records: rec, Fields: []string{"id", "name", "phone"}}}}
		}
		if ev.Status == ajar.StatusClosed {
			ev.Status = ajar.StatusExposed
			if err := st.Record(ctx, &ev); err != nil {
				log.Fatal(err)
			}
			ev.Time, ev.Status, ev.Exposure = ev.Time.Add(time.Duration(1+r.IntN(2000))*time.Hour), ajar.StatusClosed, nil
		}
		if err := st.Record(ctx, &ev); err != nil {
			log.Fatal(err)
		}
		if (i+1)%50000 == 0 {
			el := time.Since(start)
			fmt.Fprintf(os.Stderr, "filled %d/%d (%.0f/s)\n", i+1, want, float64(i+1-have)/el.Seconds())
		}
	}
}

func main() {
	flag.Parse()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	res, err := st.Search(ctx, ajar.SearchRequest{Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	if int(res.Total) < *n {
		fmt.Fprintf(os.Stderr, "filling %s with %d synthetic exposures (reused by later runs)\n", *db, *n-int(res.Total))
		fill(ctx, st, int(res.Total), *n)
	}
	const secret = "bench-key"
	_ = st.CreateKey(ctx, ajar.APIKey{ID: "bench", Role: ajar.RoleReader, Created: time.Now()}, server.HashKey(secret))
	srv := &http.Server{Handler: server.New(server.Config{Store: st, RatePerMinute: 1 << 30})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	queries := []struct{ name, q, facets string }{
		{"exposed elasticsearch with resident IDs on alibaba", "protocol:elasticsearch class:cn_resident_id provider:alibaba status:exposed", "country,class"},
		{"large and still open", "records>100000 -status:closed", "provider,protocol"},
		{"one /16 of addresses", "ip:1.0.0.0/16 status:exposed", "protocol"},
		{"open, or was, for more than 30 days", "open_for>30d", "provider,country,class"},
		{"everything, facets only", "", "status,protocol,provider,country,class"},
	}
	fmt.Printf("search API on SQLite, %d exposures, %d runs per query (target p99 < %s)\n\n", *n, *runs, *limit)
	fmt.Printf("| query | matches | p50 | p99 | p99 / target |\n|---|---:|---:|---:|---:|\n")
	client := &http.Client{}
	for _, q := range queries {
		var lat []time.Duration
		var total float64
		// One untimed run first: the first query after start-up reads its
		// pages from disk; the table is about a server that has been up.
		for i := range *runs + 1 {
			u := "http://" + ln.Addr().String() + "/api/v1/exposures?" + url.Values{"q": {q.q}, "facets": {q.facets}, "limit": {"50"}}.Encode()
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			t := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				log.Fatal(err)
			}
			var body struct {
				Total float64 `json:"total"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if i > 0 {
				lat = append(lat, time.Since(t))
			}
			if resp.StatusCode != 200 {
				log.Fatalf("%s: %d %s", q.name, resp.StatusCode, b)
			}
			_ = json.Unmarshal(b, &body)
			total = body.Total
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		fmt.Printf("| %s (`%s`, facets %s) | %.0f | %s | %s | %.2f |\n", q.name, q.q, q.facets, total,
			p50.Round(time.Millisecond), p99.Round(time.Millisecond), float64(p99)/float64(*limit))
	}
}
