// Command identify compares ajar's identification of the lab's services with
// nmap's version detection and prints a Markdown table: what each tool named,
// whether they agree, and how long each took.
//
//	lab/status | go run ./bench/identify [-nmap] [-runs 3] [-out BENCHMARKS-identify.md]
//
// The services are read from lab/status lines (name, ADDR:PORT, …) on
// standard input; only loopback addresses are accepted. nmap runs as
// `nmap -sV -n -Pn -p PORT ADDR`, one service at a time, the address and
// port named explicitly.
package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

func main() {
	withNmap := flag.Bool("nmap", true, "also run nmap -sV on each service")
	runs := flag.Int("runs", 1, "identifications per service; the median time is kept")
	extras := flag.Bool("extras", true, "add the lab's second ports (management, native, monitoring)")
	out := flag.String("out", "-", "Markdown output file (- for standard output)")
	flag.Parse()
	if err := run(os.Stdin, *withNmap, *runs, *extras, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench/identify:", err)
		os.Exit(1)
	}
}

// service is one lab service: its name in lab/status and its address.
type service struct {
	name string
	addr netip.AddrPort
}

// extraPorts are lab ports that lab/status does not list on their own line.
var extraPorts = []struct{ name, addr string }{
	{"rabbitmq-open-management", lab.RabbitMQOpenMgmt},
	{"rabbitmq-secured-management", lab.RabbitMQSecuredMgmt},
	{"clickhouse-open-native", lab.ClickHouseOpenNative},
	{"clickhouse-secured-native", lab.ClickHouseSecuredNative},
	{"nats-open-monitor", lab.NATSOpenMonitor},
}

// row is what both tools said about one service.
type row struct {
	service
	ajar     ajar.Service
	ajarErr  error
	ajarTook time.Duration
	nmap     nmapService
	nmapErr  error
	nmapTook time.Duration
}

func run(in io.Reader, withNmap bool, runs int, extras bool, out string) error {
	services, err := parseStatus(in)
	if err != nil {
		return err
	}
	if extras {
		for _, e := range extraPorts {
			services = append(services, service{e.name, netip.MustParseAddrPort(e.addr)})
		}
	}
	if len(services) == 0 {
		return errors.New("no services on standard input (pipe lab/status into it)")
	}
	runs = max(runs, 1)
	rows := make([]row, 0, len(services))
	for _, s := range services {
		r := row{service: s}
		times := make([]time.Duration, 0, runs)
		for range runs {
			start := time.Now()
			r.ajar, r.ajarErr = identifyOne(s.addr)
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		r.ajarTook = times[len(times)/2]
		if withNmap {
			start := time.Now()
			r.nmap, r.nmapErr = nmapOne(s.addr)
			r.nmapTook = time.Since(start)
		}
		fmt.Fprintf(os.Stderr, "%-28s ajar %-20s %6.2fs", s.name, r.ajar.Protocol, r.ajarTook.Seconds())
		if withNmap {
			fmt.Fprintf(os.Stderr, "  nmap %-14s %6.2fs", r.nmap.Name, r.nmapTook.Seconds())
		}
		fmt.Fprintln(os.Stderr)
		rows = append(rows, r)
	}
	w := os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return report(w, rows, withNmap, runs)
}

// parseStatus reads lab/status lines: name, ADDR:PORT, state…
func parseStatus(in io.Reader) ([]service, error) {
	var out []service
	sc := bufio.NewScanner(io.LimitReader(in, 1<<20))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		ap, err := netip.ParseAddrPort(f[1])
		if err != nil {
			continue
		}
		if !ap.Addr().IsLoopback() || ap.Addr() == netip.MustParseAddr("127.0.0.1") {
			return nil, fmt.Errorf("%s: %s is not a lab address", f[0], ap)
		}
		out = append(out, service{f[0], ap})
	}
	return out, sc.Err()
}

// identifyOne runs ajar's identification with the defaults of `ajar scan`.
func identifyOne(ap netip.AddrPort) (ajar.Service, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t := ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
	d := &probe.TargetDialer{Target: t, Timeout: 2 * time.Second}
	return identify.Identify(ctx, t, d.Dial, identify.DefaultOptions())
}

// nmapService is the <service> element of nmap's XML output.
type nmapService struct {
	Name    string `xml:"name,attr"`
	Product string `xml:"product,attr"`
	Version string `xml:"version,attr"`
	Tunnel  string `xml:"tunnel,attr"`
	Method  string `xml:"method,attr"`
}

type nmapRun struct {
	Ports []struct {
		State struct {
			State string `xml:"state,attr"`
		} `xml:"state"`
		Service nmapService `xml:"service"`
	} `xml:"host>ports>port"`
}

// nmapOne runs nmap's version detection on one address and port.
func nmapOne(ap netip.AddrPort) (nmapService, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nmap", "-sV", "-n", "-Pn", "-p", fmt.Sprint(ap.Port()), "-oX", "-", ap.Addr().String())
	raw, err := cmd.Output()
	if err != nil {
		return nmapService{}, fmt.Errorf("nmap %s: %w", ap, err)
	}
	var r nmapRun
	if err := xml.Unmarshal(raw, &r); err != nil {
		return nmapService{}, fmt.Errorf("nmap %s: %w", ap, err)
	}
	if len(r.Ports) != 1 || r.Ports[0].State.State != "open" {
		return nmapService{}, fmt.Errorf("nmap %s: port not reported open", ap)
	}
	return r.Ports[0].Service, nil
}

// overHTTP are ajar protocols that nmap reports as "http" (it names the
// transport, ajar the application behind it).
var overHTTP = map[string]bool{
	"http": true, "elasticsearch": true, "opensearch": true, "kibana": true, "couchdb": true,
	"solr": true, "influxdb": true, "etcd": true, "docker-registry": true, "prometheus": true,
	"clickhouse": true, "rabbitmq-management": true,
}

// nmapNames maps nmap's service names to ajar's where they differ.
var nmapNames = map[string]string{"mongod": "mongodb", "memcache": "memcached", "postgres": "postgresql"}

// verdict compares the two answers: "yes" when they name the same protocol
// (nmap's "http" agrees with any ajar protocol spoken over HTTP), "no"
// otherwise; nmap's guesses from the port number alone count as no answer.
func verdict(r row) (agree bool, note string) {
	if r.nmapErr != nil {
		return false, "nmap failed"
	}
	a := r.ajar.Protocol
	n := nmapProtocol(r.nmap)
	switch {
	case a == "" && n == "":
		return true, "both unknown"
	case n == "":
		return false, "nmap: unrecognised"
	case a == "":
		return false, "ajar: unrecognised"
	case a == n:
		return true, ""
	case n == "http" && overHTTP[a]:
		if a == "http" {
			return true, ""
		}
		return true, "nmap names the transport"
	}
	return false, ""
}

// nmapProtocol is nmap's answer in ajar's vocabulary; empty when nmap did
// not recognise the service (no answer matched, or a guess from the port).
func nmapProtocol(s nmapService) string {
	if s.Method == "table" || s.Name == "unknown" || s.Name == "tcpwrapped" {
		return ""
	}
	n := strings.TrimPrefix(s.Name, "ssl/")
	if m, ok := nmapNames[n]; ok {
		return m
	}
	return n
}

func report(w io.Writer, rows []row, withNmap bool, runs int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Lab services identified with the defaults of `ajar scan` (banner wait %s, step timeout %s)",
		identify.DefaultOptions().BannerWait, identify.DefaultOptions().StepTimeout)
	if runs > 1 {
		fmt.Fprintf(bw, "; ajar's time is the median of %d runs", runs)
	}
	fmt.Fprintln(bw, ".")
	fmt.Fprintln(bw)
	if withNmap {
		fmt.Fprintln(bw, "| service | address | ajar protocol / product / version | nmap service / product / version | agree? | ajar s | nmap s |")
		fmt.Fprintln(bw, "|---|---|---|---|---|--:|--:|")
	} else {
		fmt.Fprintln(bw, "| service | address | ajar protocol / product / version | ajar s |")
		fmt.Fprintln(bw, "|---|---|---|--:|")
	}
	var agreed int
	var ajarTotal, nmapTotal time.Duration
	for _, r := range rows {
		ajarTotal += r.ajarTook
		nmapTotal += r.nmapTook
		a := cell(r.ajar.Protocol, r.ajar.Product, r.ajar.Version)
		if r.ajar.Transport == "tls" {
			a = "tls: " + a
		}
		if r.ajarErr != nil {
			a += " (error: " + r.ajarErr.Error() + ")"
		}
		if !withNmap {
			fmt.Fprintf(bw, "| %s | %s | %s | %.2f |\n", r.name, r.addr, a, r.ajarTook.Seconds())
			continue
		}
		n := cell(r.nmap.Name, r.nmap.Product, r.nmap.Version)
		if r.nmap.Method == "table" {
			n = "(" + r.nmap.Name + ", from the port number)"
		}
		if r.nmapErr != nil {
			n = "error: " + r.nmapErr.Error()
		}
		ok, note := verdict(r)
		v := "no"
		if ok {
			v = "yes"
			agreed++
		}
		if note != "" {
			v += " (" + note + ")"
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %.2f | %.2f |\n", r.name, r.addr, a, n, v, r.ajarTook.Seconds(), r.nmapTook.Seconds())
	}
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "Services: %d. ajar total: %.1f s", len(rows), ajarTotal.Seconds())
	if withNmap {
		fmt.Fprintf(bw, "; nmap total: %.1f s; nmap / ajar: %.1f×; agreement: %d/%d (%.0f %%)",
			nmapTotal.Seconds(), nmapTotal.Seconds()/max(ajarTotal.Seconds(), 1e-9), agreed, len(rows),
			100*float64(agreed)/float64(len(rows)))
	}
	fmt.Fprintln(bw, ".")
	return bw.Flush()
}

// cell joins the non-empty parts of an answer; "—" when there are none.
func cell(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = strings.ReplaceAll(strings.TrimSpace(p), "|", "/"); p != "" {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return "—"
	}
	return strings.Join(keep, " / ")
}
