// Command score compares the open ports a scanner reported with the ports
// known to be open, for the discovery benchmark. It prints three numbers:
// expected, found among them, and false open ports.
//
//	score -format ajar -result out.jsonl -listeners open.txt -ss ss.txt \
//	      -targets 127.0.78.0/24 -ports 1-1024 [-dropped ports.txt]
//
// The expected set is every listener of -listeners and of `ss -ltnH`
// (-ss) that the targets cover, wildcard listeners included, less the
// ports of -dropped (silently filtered, so not reachable).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

func main() {
	format := flag.String("format", "ajar", "result format: ajar (JSON Lines) or nmap (-oG)")
	result := flag.String("result", "", "scanner output")
	listeners := flag.String("listeners", "", "ADDR:PORT lines of the benchmark's listeners")
	ssFile := flag.String("ss", "", "output of ss -ltnH")
	prefix := flag.String("targets", "", "scanned address or prefix")
	ports := flag.String("ports", "1-65535", "scanned port range LOW-HIGH")
	dropped := flag.String("dropped", "", "comma-separated ports filtered on the target")
	flag.Parse()
	if err := run(*format, *result, *listeners, *ssFile, *prefix, *ports, *dropped); err != nil {
		fmt.Fprintln(os.Stderr, "score:", err)
		os.Exit(1)
	}
}

type scope struct {
	p      netip.Prefix
	lo, hi int
	drop   map[int]bool
}

func (s scope) covers(ap netip.AddrPort) bool {
	p := int(ap.Port())
	return s.p.Contains(ap.Addr()) && p >= s.lo && p <= s.hi && !s.drop[p]
}

func run(format, result, listeners, ssFile, prefix, ports, dropped string) error {
	var sc scope
	var err error
	if strings.Contains(prefix, "/") {
		sc.p, err = netip.ParsePrefix(prefix)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(prefix)
		sc.p = netip.PrefixFrom(a, 32)
	}
	if err != nil {
		return fmt.Errorf("-targets: %w", err)
	}
	lo, hi, _ := strings.Cut(ports, "-")
	if sc.lo, err = strconv.Atoi(lo); err != nil {
		return fmt.Errorf("-ports: %w", err)
	}
	if sc.hi, err = strconv.Atoi(hi); err != nil {
		return fmt.Errorf("-ports: %w", err)
	}
	sc.drop = map[int]bool{}
	if dropped != "" {
		b, err := os.ReadFile(dropped)
		if err != nil {
			return err
		}
		for _, f := range strings.Split(strings.TrimSpace(string(b)), ",") {
			p, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-dropped: %w", err)
			}
			sc.drop[p] = true
		}
	}
	want := map[netip.AddrPort]bool{}
	if err := eachLine(listeners, func(l string) error {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return err
		}
		if sc.covers(ap) {
			want[ap] = true
		}
		return nil
	}); err != nil {
		return err
	}
	if err := eachLine(ssFile, func(l string) error {
		f := strings.Fields(l)
		if len(f) < 4 {
			return nil
		}
		i := strings.LastIndex(f[3], ":")
		host, port := f[3][:i], f[3][i+1:]
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil
		}
		switch host {
		case "0.0.0.0", "*", "[::]":
			// A wildcard listener answers on every address scanned.
			for a := sc.p.Masked().Addr(); sc.p.Contains(a); a = a.Next() {
				if ap := netip.AddrPortFrom(a, uint16(p)); sc.covers(ap) {
					want[ap] = true
				}
			}
		default:
			if a, err := netip.ParseAddr(host); err == nil {
				if ap := netip.AddrPortFrom(a, uint16(p)); sc.covers(ap) {
					want[ap] = true
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	got, err := parseResult(format, result)
	if err != nil {
		return err
	}
	found, falseOpen := 0, 0
	for ap := range got {
		if want[ap] {
			found++
		} else {
			falseOpen++
		}
	}
	fmt.Println(len(want), found, falseOpen)
	return nil
}

func eachLine(name string, f func(string) error) error {
	if name == "" {
		return nil
	}
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			if err := f(l); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return s.Err()
}

// parseResult reads the open ports from ajar's JSON Lines or nmap's
// grepable output (Host: A () Ports: 22/open/tcp//ssh///, …).
func parseResult(format, name string) (map[netip.AddrPort]bool, error) {
	got := map[netip.AddrPort]bool{}
	err := eachLine(name, func(l string) error {
		switch format {
		case "ajar":
			var ev struct {
				IP     netip.Addr `json:"ip"`
				Port   uint16     `json:"port"`
				Status string     `json:"status"`
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				return err
			}
			if ev.Status == "open" {
				got[netip.AddrPortFrom(ev.IP, ev.Port)] = true
			}
		case "nmap":
			host, rest, ok := strings.Cut(l, "Ports: ")
			if !ok || !strings.HasPrefix(host, "Host: ") {
				return nil
			}
			a, err := netip.ParseAddr(strings.Fields(host)[1])
			if err != nil {
				return err
			}
			rest, _, _ = strings.Cut(rest, "\t")
			for _, p := range strings.Split(rest, ", ") {
				f := strings.Split(p, "/")
				if len(f) > 2 && f[1] == "open" {
					n, err := strconv.Atoi(strings.TrimSpace(f[0]))
					if err != nil {
						return err
					}
					got[netip.AddrPortFrom(a, uint16(n))] = true
				}
			}
		default:
			return fmt.Errorf("unknown format %q", format)
		}
		return nil
	})
	return got, err
}
