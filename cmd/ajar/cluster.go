package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar/cluster"
	"github.com/ajar-scan/ajar/store/postgres"
	"github.com/ajar-scan/ajar/targets"
)

// clusterFlags are the flags of `ajar scan` in cluster mode.
type clusterFlags struct {
	url     string
	shards  int
	ackWait time.Duration
	detach  bool
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "cluster", "", "hand the scan to the workers of this NATS JetStream server (nats://HOST:4222); needs --store postgres://…")
	fl.IntVar(&f.shards, "shards", 0, fmt.Sprintf("cluster mode: cut the scan into this many shards (0: one per %d targets)", cluster.TargetsPerShard))
	fl.DurationVar(&f.ackWait, "ack-wait", cluster.DefaultAckWait, "cluster mode: give a shard to another worker after this long without a heartbeat")
	fl.BoolVar(&f.detach, "detach", false, "cluster mode: queue the shards, print the scan id and return (follow with `ajar scans resume ID`)")
}

// isPostgresURL reports whether a --store value names a PostgreSQL database.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openPostgres opens the shared store that cluster mode needs.
func (a *app) openPostgres(ctx context.Context) (*postgres.Store, error) {
	switch {
	case a.db != "" && a.storeURL != "":
		return nil, usagef("give --db or --store, not both")
	case !isPostgresURL(a.storeURL):
		return nil, usagef("cluster mode needs a shared store: --store postgres://USER@HOST:5432/DB")
	}
	st, err := postgres.Open(ctx, a.storeURL)
	if err != nil {
		return nil, fmt.Errorf("%w (check --store and that PostgreSQL runs there)", err)
	}
	return st, nil
}

// checkNATSURL checks the value of --flag: one or more nats:// URLs.
func checkNATSURL(flag, rawURL string) error {
	if rawURL == "" {
		return usagef("give the NATS server with --%s nats://HOST:4222", flag)
	}
	for _, u := range strings.Split(rawURL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" {
			return usagef("--%s %q: want nats://HOST:PORT (or tls://)", flag, u)
		}
	}
	return nil
}

// connectNATS connects to a NATS server and opens JetStream. The connection
// reconnects for ever: a worker outlives a restart of NATS.
func connectNATS(ctx context.Context, flag, rawURL, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if err := checkNATSURL(flag, rawURL); err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(rawURL,
		nats.Name(name),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w (is nats-server running with -js?)", rawURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream at %s: %w", rawURL, err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream at %s: %w (start nats-server with -js)", rawURL, err)
	}
	return nc, js, nil
}

// logger returns the log of the cluster commands: text on stderr, warnings
// only with -q.
func (a *app) logger() *slog.Logger {
	level := slog.LevelInfo
	if a.quiet {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// runClusterScan is `ajar scan --cluster`: the coordinator. It queues the
// shards, follows them until every one is stored, and runs the closing pass.
func (a *app) runClusterScan(ctx context.Context, cmd *cobra.Command, f *scanFlags, args []string) error {
	switch {
	case f.resume != "":
		return usagef("--resume does not apply to a cluster scan: resume it with `ajar scans resume ID`")
	case f.shard != "":
		return usagef("--shard does not apply to a cluster scan: use --shards N to choose how many shards it is cut into")
	case f.cluster.shards < 0 || f.cluster.shards > cluster.MaxShards:
		return usagef("--shards must be between 1 and %d, got %d", cluster.MaxShards, f.cluster.shards)
	case f.cluster.ackWait < time.Second:
		return usagef("--ack-wait must be at least 1s, got %s", f.cluster.ackWait)
	}
	if _, err := f.discoverOptions(cmd); err != nil {
		return err
	}
	if err := checkNATSURL("cluster", f.cluster.url); err != nil {
		return err
	}
	sp, walk, err := f.space(ctx, a, args)
	if errors.Is(err, targets.ErrEmpty) {
		if !a.quiet {
			fmt.Fprintln(a.stderr, "ajar: nothing to scan: every target is excluded (see --exclude and --no-default-excludes); nothing was queued")
		}
		return nil
	}
	if err != nil {
		return err
	}
	spec := cluster.NewSpec(sp, f.excludePorts)
	spec.Seed, spec.Shards = walk.Seed, f.cluster.shards
	if spec.Shards == 0 {
		spec.Shards = cluster.DefaultShards(sp.Size())
	}
	spec.Rate, spec.PerHost, spec.Timeout, spec.Retries = f.rate, f.perHost, f.timeout, f.retries
	spec.ProbeTimeout, spec.DefaultCreds, spec.Samples, spec.CountCap = f.probeTimeout, f.defaultCreds, f.samples, f.countCap

	st, err := a.openPostgres(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	log := a.logger()
	nc, js, err := connectNATS(ctx, "cluster", f.cluster.url, "ajar coordinator", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	c := &cluster.Coordinator{JS: js, Store: st, AckWait: f.cluster.ackWait, Transient: postgres.IsTransient}
	id := newScanID()
	sc, err := c.Start(ctx, id, commandLine(os.Args[1:]), spec)
	if err != nil {
		return fmt.Errorf("start cluster scan: %w", err)
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "ajar: scan %s: %d targets in %d shards queued on %s\n", id, sc.Targets, spec.Shards, f.cluster.url)
	}
	if f.cluster.detach {
		fmt.Fprintln(a.stdout, id)
		return nil
	}
	return a.followClusterScan(ctx, c, sc, f.cluster.url)
}

// followClusterScan follows a scan to its end and prints what it did.
func (a *app) followClusterScan(ctx context.Context, c *cluster.Coordinator, sc *cluster.Scan, natsURL string) error {
	pp := &clusterProgress{w: a, start: time.Now(), base: sc.Progress.Targets}
	var progress func(*cluster.Scan)
	if !a.quiet {
		progress = pp.print
	}
	final, err := c.Follow(ctx, sc.ID, progress)
	if err != nil {
		if ctx.Err() != nil {
			pp.end()
			fmt.Fprintf(a.stderr, "ajar: stopped following scan %s; it goes on in the workers. "+
				"Follow it again (and close it) with `ajar scans resume %s --cluster %s --store …`, stop it with `ajar scans cancel %s --cluster %s`\n",
				sc.ID, sc.ID, natsURL, sc.ID, natsURL)
			return exitCodeError{code: exitInterrupted}
		}
		return fmt.Errorf("follow cluster scan %s: %w", sc.ID, err)
	}
	pp.end()
	if final.State == cluster.StateCancelled {
		fmt.Fprintf(a.stderr, "ajar: scan %s was cancelled after %d of %d shards; resume it with `ajar scans resume %s`\n",
			sc.ID, final.Progress.Shards, final.Spec.Shards, sc.ID)
		return nil
	}
	if !a.quiet {
		p := final.Progress
		fmt.Fprintf(a.stderr, "ajar: scan %s finished: %d targets in %d shards, %d open, %d exposed, %d protected, %d closed, in %s\n",
			sc.ID, p.Targets, p.Shards, p.Open, p.Exposed, p.Protected, p.Closed, formatDuration(time.Since(sc.Created)))
	}
	return nil
}

// clusterProgress draws the coordinator's progress line.
type clusterProgress struct {
	w     *app
	start time.Time
	base  int64 // targets done before this coordinator started following
	last  time.Time
	drawn bool
}

func (p *clusterProgress) print(sc *cluster.Scan) {
	now := time.Now()
	if !p.w.isTerminal && now.Sub(p.last) < 5*time.Second {
		return
	}
	p.last = now
	pr := sc.Progress
	rate := float64(pr.Targets-p.base) / max(now.Sub(p.start).Seconds(), 0.001)
	pct := 100.0
	if sc.Targets > 0 {
		pct = 100 * float64(pr.Targets) / float64(sc.Targets)
	}
	eta := "-"
	if rate > 0 && uint64(pr.Targets) < sc.Targets {
		eta = formatDuration(time.Duration((float64(sc.Targets)-float64(pr.Targets))/rate) * time.Second)
	}
	line := fmt.Sprintf("shards %d/%d  %d/%d targets (%.1f%%)  %.0f/s  open %d  exposed %d  protected %d  eta %s",
		pr.Shards, sc.Spec.Shards, pr.Targets, sc.Targets, pct, rate, pr.Open, pr.Exposed, pr.Protected, eta)
	if p.w.isTerminal {
		fmt.Fprintf(p.w.stderr, "\r\x1b[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w.stderr, line)
}

// end ends a progress line drawn in place.
func (p *clusterProgress) end() {
	if p.drawn {
		fmt.Fprintln(p.w.stderr)
		p.drawn = false
	}
}

// commandLine renders the command line for people, kept with the scan in
// the store and in NATS: passwords in URLs (--store) are masked.
func commandLine(args []string) string {
	out := []string{"ajar"}
	for _, arg := range args {
		prefix, val := "", arg
		if name, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(name, "--") {
			prefix, val = name+"=", v
		}
		if u, err := url.Parse(val); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				val = u.Redacted()
			}
		}
		out = append(out, prefix+val)
	}
	return strings.Join(out, " ")
}
