package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/targets"
)

// targetFlags are the flags that say what to scan; scan and discover share them.
type targetFlags struct {
	ports             string
	inputList         string
	exclude           []string
	excludeFile       string
	excludePorts      []string
	noDefaultExcludes bool
	allowLarge        bool
	shard             string
	seed              uint64
	resolver          string
	resume            string
}

func (f *targetFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.ports, "ports", "p", "data", `ports: lists and ranges ("22,80,8000-8100"); "data" = every probe's default ports`)
	fl.StringVarP(&f.inputList, "input-list", "i", "", "read targets from FILE, one per line (# comments); - for stdin")
	fl.StringSliceVar(&f.exclude, "exclude", nil, "addresses, ranges or CIDRs not to scan (repeatable, comma-separated)")
	fl.StringVar(&f.excludeFile, "exclude-file", "", "read exclusions from FILE, one per line (# comments)")
	fl.StringSliceVar(&f.excludePorts, "exclude-ports", nil, "ports or ADDR:PORT not to scan")
	fl.BoolVar(&f.noDefaultExcludes, "no-default-excludes", false, "also scan reserved and special-purpose ranges (RFC 6890)")
	fl.BoolVar(&f.allowLarge, "allow-large", false, "allow a single range larger than a /8 (IPv6: larger than 65536 addresses)")
	fl.StringVar(&f.shard, "shard", "", "scan only shard i of n of the target space (1-based: 1/4 … 4/4)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the pseudo-random target order (0: random; the same seed gives the same order)")
	fl.StringVar(&f.resolver, "resolver", "", "DNS server (ADDR:PORT) for host names and reverse DNS; default: the system's resolver for host names, no reverse DNS")
	fl.StringVar(&f.resume, "resume", "", "keep progress in FILE; after an interruption the same command continues where it stopped")
}

// space builds the target space from arguments and flags.
func (f *targetFlags) space(ctx context.Context, a *app, args []string) (*targets.Space, targets.WalkOptions, error) {
	var walk targets.WalkOptions
	ports, err := targets.ParsePorts(f.ports, map[string][]uint16{"data": probe.DataPorts()})
	if err != nil {
		return nil, walk, usageError{fmt.Errorf("--ports: %w", err)}
	}
	include := targets.Entries(args...)
	if f.inputList != "" {
		lines, err := readListFile(a, f.inputList)
		if err != nil {
			return nil, walk, err
		}
		include = append(include, lines...)
	}
	if len(include) == 0 {
		return nil, walk, usagef("no targets: give addresses, ranges, CIDRs or host names, or -i FILE")
	}
	exclude := targets.Entries(f.exclude...)
	if f.excludeFile != "" {
		lines, err := readListFile(a, f.excludeFile)
		if err != nil {
			return nil, walk, err
		}
		exclude = append(exclude, lines...)
	}
	spec := targets.Spec{
		Include: include, Exclude: exclude, ExcludePorts: f.excludePorts, Ports: ports,
		NoDefaultExcludes: f.noDefaultExcludes, AllowLarge: f.allowLarge,
		Resolve: resolver(f.resolver),
	}
	sp, err := targets.Build(ctx, spec)
	if err != nil {
		if errors.Is(err, targets.ErrEmpty) {
			return nil, walk, err
		}
		return nil, walk, usageError{err}
	}
	if f.shard != "" {
		i, n, err := targets.ParseShard(f.shard)
		if err != nil {
			return nil, walk, usageError{fmt.Errorf("--shard: %w", err)}
		}
		walk.Shard, walk.Shards = i, n
	}
	walk.Seed = f.seed
	if walk.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			walk.Seed = walk.Seed<<8 | uint64(x)
		}
	}
	return sp, walk, nil
}

// readListFile reads a target or exclusion list; "-" is stdin.
func readListFile(a *app, name string) ([]targets.Entry, error) {
	if name == "-" {
		return targets.ReadList(a.stdin, "stdin")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, usageError{fmt.Errorf("read list: %w", err)}
	}
	defer f.Close()
	lines, err := targets.ReadList(f, name)
	if err != nil {
		return nil, usageError{err}
	}
	return lines, nil
}

// resolver returns the host-name resolver: the system's, or the DNS server
// the user named.
func resolver(server string) func(ctx context.Context, host string) ([]netip.Addr, error) {
	r := net.DefaultResolver
	if server != "" {
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	return func(ctx context.Context, host string) ([]netip.Addr, error) {
		addrs, err := r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		return addrs, nil
	}
}

type scanFlags struct {
	targetFlags
	rate         float64
	concurrency  int
	perHost      int
	timeout      time.Duration
	probeTimeout time.Duration
	retries      int
	workers      int
	defaultCreds bool
	json         bool
	samples      int
	countCap     int64
	cluster      clusterFlags
	ranges       string
	mmdb         []string
}

func (a *app) scanCommand() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan TARGET... [flags]",
		Short: "Discover, identify and probe services; store and print what is exposed",
		Long: `scan walks the targets (addresses, ranges like 127.0.10.1-127.0.10.9, CIDRs,
host names) × ports in a pseudo-random order, connects to each, identifies the
protocol that answers on every open port, and runs the matching probes.

A probe proves exposure with read-only requests and the smallest reads that
measure it: datasets, record counts, sizes and field names. Every observation
is stored; a service that was exposed and is now gone or asks for a password
is reported "closed" with how long it was open.`,
		Example: `  ajar scan 127.0.10.0/24
  ajar scan 127.0.10.10-127.0.10.31 -p 3306,5432,6379 --json
  ajar scan -i targets.txt --exclude-file no-scan.txt --rate 2000`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), cmd, &f, args)
		},
	}
	f.registerScan(cmd)
	f.cluster.register(cmd)
	return cmd
}

// registerScan adds the flags of a scan; scan and watch share them.
func (f *scanFlags) registerScan(cmd *cobra.Command) {
	f.register(cmd)
	def := discover.DefaultOptions()
	fl := cmd.Flags()
	fl.Float64Var(&f.rate, "rate", 0, "most connection attempts per second, retries included (0: no limit)")
	fl.IntVar(&f.concurrency, "concurrency", def.Concurrency, "most connection attempts in flight")
	fl.IntVar(&f.perHost, "per-host", def.PerHost, "most connection attempts in flight to one address")
	fl.DurationVar(&f.timeout, "timeout", def.Timeout, "timeout of each connect and each probe step")
	fl.DurationVar(&f.probeTimeout, "probe-timeout", time.Minute, "time budget to identify and probe one open port")
	fl.IntVar(&f.retries, "retries", def.Retries, "extra attempts on a port that did not answer")
	fl.IntVar(&f.workers, "workers", 32, "open ports identified and probed at once")
	fl.BoolVar(&f.defaultCreds, "default-creds", false, "also try vendors' documented default passwords (never guesses)")
	fl.BoolVar(&f.json, "json", false, "print JSON Lines (schema ajar/1), one object per observation")
	fl.IntVar(&f.samples, "samples", probe.DefaultOptions().Samples, "most records sampled per dataset (stored redacted)")
	fl.Int64Var(&f.countCap, "count-cap", probe.DefaultOptions().CountCap, "count rows exactly up to this many per dataset; estimate above")
	fl.StringVar(&f.ranges, "ranges", "", "provider IP ranges file (default: the store's, written by ajar ranges import)")
	fl.StringSliceVar(&f.mmdb, "mmdb", nil, "MaxMind-format database for ASN, organisation and country (repeatable)")
}

// discoverOptions checks the scan flags and returns discovery's options.
func (f *scanFlags) discoverOptions(cmd *cobra.Command) (discover.Options, error) {
	dopt := discover.Options{Rate: f.rate, Concurrency: f.concurrency, PerHost: f.perHost,
		Timeout: f.timeout, Retries: f.retries}
	if cmd.Flags().Changed("rate") && f.rate <= 0 {
		return dopt, usagef("--rate must be positive, got %g", f.rate)
	}
	if err := dopt.Validate(); err != nil {
		return dopt, usageError{err}
	}
	if f.probeTimeout <= 0 || f.workers < 1 || f.samples < 0 || f.countCap < 0 {
		return dopt, usagef("--probe-timeout and --workers must be positive, --samples and --count-cap not negative")
	}
	return dopt, nil
}

func (a *app) runScan(ctx context.Context, cmd *cobra.Command, f *scanFlags, args []string) error {
	if f.cluster.url != "" {
		return a.runClusterScan(ctx, cmd, f, args)
	}
	dopt, err := f.discoverOptions(cmd)
	if err != nil {
		return err
	}
	w, err := f.prepareWalk(ctx, a, args, f.resume, newScanID())
	if errors.Is(err, targets.ErrEmpty) {
		if !a.quiet {
			fmt.Fprintln(a.stderr, "ajar: nothing to scan: every target is excluded (see --exclude and --no-default-excludes); nothing was sent")
		}
		return nil
	}
	if err != nil {
		return err
	}
	// Open the store before sending anything: a bad --db fails early.
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := discover.RaiseFileLimit(); err != nil && !a.quiet {
		fmt.Fprintln(a.stderr, "ajar: warning:", err)
	}
	scanID := newScanID()
	if w.state != nil {
		scanID = w.state.ScanID
	}
	var events []*ajar.Event
	cfg := f.baseConfig(dopt, st)
	cfg.ID = scanID
	cfg.Targets, cfg.Total, cfg.Covers = w.targets(), w.total, w.space.Contains
	cfg.Done, cfg.OnOpen, cfg.KnownOpen = w.doneFunc(), w.found, w.knownOpen()
	attr, err := a.attribution(f)
	if err != nil {
		return err
	}
	defer attr.Close()
	cfg.Attribute = attr.Attribute
	cfg.Emit = func(ev *ajar.Event) {
		if f.json {
			_ = jsonLine(a.stdout, ev)
			return
		}
		events = append(events, ev)
	}
	if !a.quiet {
		pp := &progressPrinter{w: a.stderr, terminal: a.isTerminal, every: 5 * time.Second}
		cfg.Progress = pp.print
	}
	stopSaving := w.saveEvery(2*time.Second, func(err error) { fmt.Fprintln(a.stderr, "ajar: warning:", err) })
	sum, err := scan.Run(ctx, cfg)
	stopSaving()
	if serr := w.save(err == nil && !sum.Interrupted); serr != nil && err == nil {
		err = serr
	}
	if !f.json {
		if perr := printEvents(a, events); perr != nil && err == nil {
			err = perr
		}
	}
	if sum.Interrupted && !a.quiet {
		msg := fmt.Sprintf("ajar: scan %s interrupted after %d of %d targets; what was found is stored", cfg.ID, sum.Done, sum.Total)
		if f.resume != "" {
			msg += "; run the same command to resume"
		}
		fmt.Fprintln(a.stderr, msg)
	}
	if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		return fmt.Errorf("scan: %w", err)
	}
	if sum.Interrupted {
		return exitCodeError{code: exitInterrupted}
	}
	return nil
}

// baseConfig is the part of a scan's configuration the flags decide; scan
// and watch share it.
func (f *scanFlags) baseConfig(dopt discover.Options, st ajar.Store) scan.Config {
	popt := probe.DefaultOptions()
	popt.DefaultCreds, popt.Samples, popt.CountCap = f.defaultCreds, f.samples, f.countCap
	idopt := identify.DefaultOptions()
	idopt.StepTimeout = f.timeout
	return scan.Config{
		Args:     strings.Join(append([]string{"ajar"}, os.Args[1:]...), " "),
		Discover: dopt, Identify: idopt, Probe: popt,
		Workers: f.workers, TargetTimeout: f.probeTimeout,
		Store: st,
	}
}

func printEvents(a *app, events []*ajar.Event) error {
	slices.SortFunc(events, func(x, y *ajar.Event) int {
		return cmp.Or(x.Addr.Compare(y.Addr), cmp.Compare(x.Port, y.Port), strings.Compare(x.Plugin, y.Plugin))
	})
	if len(events) == 0 {
		if !a.quiet {
			fmt.Fprintln(a.stdout, "no open ports found")
		}
		return nil
	}
	t := newTable(a.stdout, eventHeader...)
	for _, ev := range events {
		t.row(eventRow(ev)...)
	}
	return t.flush()
}

func newScanID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
