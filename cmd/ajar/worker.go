package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar/cluster"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/store/postgres"
)

type workerFlags struct {
	nats        string
	name        string
	concurrency int
	workers     int
	rate        float64
	metrics     string
	drain       time.Duration
	patience    time.Duration
}

func (a *app) workerCommand() *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --nats URL --store postgres://…",
		Short: "Scan the shards of cluster scans, pulled from NATS JetStream",
		Long: `worker pulls shards of cluster scans (started with ajar scan --cluster) from
NATS JetStream, scans them, stores every observation in the shared PostgreSQL
store and acknowledges a shard only once its events are stored. A shard whose
worker dies goes to another worker; its observations are stored once.

Every worker takes an equal share of a scan's --rate (the live workers are
counted in a JetStream key-value bucket); --rate here caps this worker too.

SIGTERM or SIGINT stops the worker: it finishes the shard in hand within
--drain, or hands it back.`,
		Example: `  ajar worker --nats nats://127.0.0.1:4222 --store postgres://postgres@127.0.0.1:5432/ajar
  ajar worker --nats nats://10.0.0.5:4222 --store postgres://ajar@10.0.0.6/ajar --rate 20000 --metrics 127.0.0.1:9464`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runWorker(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nats, "nats", "", "NATS server with JetStream (nats://HOST:4222; several comma-separated)")
	fl.StringVar(&f.name, "name", "", "name of this worker in logs and shard records (default HOST-PID)")
	fl.IntVar(&f.concurrency, "concurrency", discover.DefaultOptions().Concurrency, "most connection attempts in flight")
	fl.IntVar(&f.workers, "workers", 32, "open ports identified and probed at once")
	fl.Float64Var(&f.rate, "rate", 0, "most connection attempts per second of this worker, whatever the scan allows (0: no cap of its own)")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on ADDR:PORT at /metrics (e.g. 127.0.0.1:9464)")
	fl.DurationVar(&f.drain, "drain", 30*time.Second, "on SIGTERM, how long the shard in hand may run on before it is handed back")
	fl.DurationVar(&f.patience, "patience", 5*time.Minute, "how long to retry the store or NATS through an outage before handing a shard back")
	return cmd
}

func (a *app) runWorker(ctx context.Context, f *workerFlags) error {
	switch {
	case f.concurrency < 1 || f.workers < 1:
		return usagef("--concurrency and --workers must be at least 1")
	case f.rate < 0:
		return usagef("--rate must not be negative, got %g", f.rate)
	case f.drain < 0 || f.patience <= 0:
		return usagef("--drain must not be negative and --patience must be positive")
	}
	if err := checkNATSURL("nats", f.nats); err != nil {
		return err
	}
	var metricsLn net.Listener
	if f.metrics != "" {
		ln, err := net.Listen("tcp", f.metrics)
		if err != nil {
			return usagef("--metrics %s: %v", f.metrics, err)
		}
		metricsLn = ln
		defer ln.Close()
	}
	st, err := a.openPostgres(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := discover.RaiseFileLimit(); err != nil && !a.quiet {
		fmt.Fprintln(a.stderr, "ajar: warning:", err)
	}
	log := a.logger()
	name := f.name
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	nc, js, err := connectNATS(ctx, "nats", f.nats, "ajar worker "+name, log)
	if err != nil {
		return err
	}
	defer nc.Close()

	m := cluster.NewMetrics()
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serve metrics", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		log.Info("serving metrics", "url", "http://"+metricsLn.Addr().String()+"/metrics")
	}
	w := &cluster.Worker{
		JS: js, Store: st, Name: name,
		Concurrency: f.concurrency, Workers: f.workers, Rate: f.rate,
		Drain: f.drain, Patience: f.patience, Transient: postgres.IsTransient,
		Metrics: m, Logger: log,
	}
	if err := w.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
