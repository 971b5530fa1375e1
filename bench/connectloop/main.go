// Command connectloop measures the loopback connect ceiling: the simplest
// Go connect scan (a net.Dialer per port, N goroutines) at each of the given
// concurrencies, then the best of them again, printing the best rate and
// its concurrency.
//
//	connectloop -p 1-65535 -c 64,128,256,512 127.0.78.1
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	ports := flag.String("p", "1-65535", "port range LOW-HIGH")
	conc := flag.String("c", "64,128,256,512", "concurrencies to try")
	runs := flag.Int("runs", 1, "runs of the best concurrency, the sweep included")
	timeout := flag.Duration("timeout", time.Second, "connect timeout")
	flag.Parse()
	lo, hi, err := parseRange(*ports)
	if err != nil || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: connectloop -p LOW-HIGH [-c N,N…] ADDR…")
		os.Exit(2)
	}
	var addrs []netip.Addr
	for _, a := range flag.Args() {
		ad, err := netip.ParseAddr(a)
		if err != nil || !ad.IsLoopback() {
			fmt.Fprintf(os.Stderr, "connectloop: %q is not a loopback address\n", a)
			os.Exit(2)
		}
		addrs = append(addrs, ad)
	}
	var cs []int
	for _, f := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(f)
		if err != nil || c < 1 {
			fmt.Fprintf(os.Stderr, "connectloop: bad concurrency %q\n", f)
			os.Exit(2)
		}
		cs = append(cs, c)
	}
	// Sweep the concurrencies once, then run the best one again.
	best, bestC := 0.0, 0
	try := func(c int) {
		n, open, d := scan(addrs, lo, hi, c, *timeout)
		rate := float64(n) / d.Seconds()
		fmt.Fprintf(os.Stderr, "concurrency %d: %d ports in %.3fs, %.0f/s, %d open\n", c, n, d.Seconds(), rate, open)
		if rate > best {
			best, bestC = rate, c
		}
	}
	for _, c := range cs {
		try(c)
	}
	for range *runs - 1 {
		try(bestC)
	}
	fmt.Printf("%.0f %d\n", best, bestC)
}

func parseRange(s string) (int, int, error) {
	a, b, _ := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, err
	}
	hi := lo
	if b != "" {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, err
		}
	}
	return lo, hi, nil
}

func scan(addrs []netip.Addr, lo, hi, conc int, timeout time.Duration) (int, int64, time.Duration) {
	jobs := make(chan string, conc)
	var open atomic.Int64
	var wg sync.WaitGroup
	d := net.Dialer{Timeout: timeout}
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				c, err := d.DialContext(context.Background(), "tcp", a)
				if err == nil {
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
					open.Add(1)
				}
			}
		}()
	}
	n := 0
	for p := lo; p <= hi; p++ {
		for _, a := range addrs {
			jobs <- netip.AddrPortFrom(a, uint16(p)).String()
			n++
		}
	}
	close(jobs)
	wg.Wait()
	return n, open.Load(), time.Since(start)
}
