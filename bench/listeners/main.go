// Command listeners opens TCP listeners on loopback for the discovery
// benchmark, writes the ADDR:PORT list of what it opened, then accepts and
// closes connections until it is stopped.
//
//	listeners -o open.txt 127.0.78.1:300:1-65535 127.0.78.0/24:200:1-1024
//
// Each argument is ADDRESS-OR-PREFIX:COUNT:PORT-RANGE; COUNT listeners go on
// random addresses of the prefix and random free ports of the range.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

type spec struct {
	prefix    netip.Prefix
	count     int
	low, high int
}

func parseSpec(s string) (spec, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return spec{}, fmt.Errorf("%q: want ADDRESS-OR-PREFIX:COUNT:LOW-HIGH", s)
	}
	var sp spec
	var err error
	if strings.Contains(parts[0], "/") {
		sp.prefix, err = netip.ParsePrefix(parts[0])
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(parts[0])
		sp.prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil {
		return spec{}, fmt.Errorf("%q: %w", s, err)
	}
	if !sp.prefix.Addr().Is4() || !sp.prefix.Addr().IsLoopback() {
		return spec{}, fmt.Errorf("%q: only IPv4 loopback addresses", s)
	}
	if sp.count, err = strconv.Atoi(parts[1]); err != nil || sp.count < 0 {
		return spec{}, fmt.Errorf("%q: bad count", s)
	}
	lo, hi, ok := strings.Cut(parts[2], "-")
	sp.low, err = strconv.Atoi(lo)
	if err == nil && ok {
		sp.high, err = strconv.Atoi(hi)
	} else {
		sp.high = sp.low
	}
	if err != nil || sp.low < 1 || sp.high > 65535 || sp.low > sp.high {
		return spec{}, fmt.Errorf("%q: bad port range", s)
	}
	return sp, nil
}

// pick returns a random address of p.
func pick(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if host > 0 {
		// Avoid the network and broadcast addresses of a prefix.
		v += 1 + rand.Uint32N(max(host-1, 1))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func main() {
	out := flag.String("o", "-", "write the opened ADDR:PORT list here")
	flag.Parse()
	var ls []net.Listener
	w := bufio.NewWriter(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listeners:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = bufio.NewWriter(f)
	}
	for _, arg := range flag.Args() {
		sp, err := parseSpec(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listeners:", err)
			os.Exit(2)
		}
		for opened, tries := 0, 0; opened < sp.count; tries++ {
			if tries > 100*sp.count+1000 {
				fmt.Fprintf(os.Stderr, "listeners: %s: could only open %d\n", arg, opened)
				os.Exit(1)
			}
			ap := netip.AddrPortFrom(pick(sp.prefix), uint16(sp.low+rand.IntN(sp.high-sp.low+1)))
			l, err := net.Listen("tcp", ap.String())
			if errors.Is(err, syscall.EADDRINUSE) {
				continue
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "listeners:", err)
				os.Exit(1)
			}
			ls = append(ls, l)
			fmt.Fprintln(w, ap)
			opened++
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "listeners:", err)
		os.Exit(1)
	}
	for _, l := range ls {
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
	// Ready: the list is complete. Serve until told to stop.
	fmt.Fprintln(os.Stderr, "listeners: ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
