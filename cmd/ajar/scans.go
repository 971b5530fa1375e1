package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar/cluster"
	"github.com/ajar-scan/ajar/store/postgres"
)

type scansFlags struct {
	cluster string
	json    bool
	ackWait time.Duration
}

func (a *app) scansCommand() *cobra.Command {
	var f scansFlags
	cmd := &cobra.Command{
		Use:   "scans --cluster URL",
		Short: "List cluster scans; cancel or resume one",
		Long: `scans lists the scans handed to a cluster (ajar scan --cluster), newest
first, with their state (running, closing, finished, cancelled) and progress.

  ajar scans cancel ID   stops a scan: workers drop its shards; what was
                         stored stays
  ajar scans resume ID   queues again the shards of a cancelled scan, or of a
                         scan whose coordinator stopped, follows it to the end
                         and runs its closing pass (needs --store)`,
		Example: `  ajar scans --cluster nats://127.0.0.1:4222
  ajar scans cancel 20261125T100000Z-a1b2c3 --cluster nats://127.0.0.1:4222
  ajar scans resume 20261125T100000Z-a1b2c3 --cluster nats://127.0.0.1:4222 --store postgres://postgres@127.0.0.1/ajar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.listScans(cmd.Context(), &f)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.cluster, "cluster", "", "NATS JetStream server of the cluster (nats://HOST:4222)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print one JSON object per scan")
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a cluster scan; workers drop its shards",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.cancelScan(cmd.Context(), &f, args[0])
		},
	}
	resume := &cobra.Command{
		Use:   "resume ID",
		Short: "Queue the unfinished shards of a cluster scan again and follow it to the end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.resumeScan(cmd.Context(), &f, args[0])
		},
	}
	resume.Flags().DurationVar(&f.ackWait, "ack-wait", cluster.DefaultAckWait, "give a shard to another worker after this long without a heartbeat")
	cmd.AddCommand(cancel, resume)
	return cmd
}

func (a *app) listScans(ctx context.Context, f *scansFlags) error {
	nc, js, err := connectNATS(ctx, "cluster", f.cluster, "ajar scans", a.logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	scans, err := cluster.List(ctx, js)
	if err != nil {
		return err
	}
	if f.json {
		for _, sc := range scans {
			if err := jsonValue(a.stdout, sc); err != nil {
				return err
			}
		}
		return nil
	}
	if len(scans) == 0 {
		if !a.quiet {
			fmt.Fprintln(a.stdout, "no cluster scans")
		}
		return nil
	}
	t := newTable(a.stdout, "ID", "STATE", "SHARDS", "TARGETS", "OPEN", "EXPOSED", "CLOSED", "CREATED", "COMMAND")
	for _, sc := range scans {
		p := sc.Progress
		t.row(sc.ID, string(sc.State), fmt.Sprintf("%d/%d", p.Shards, sc.Spec.Shards),
			fmt.Sprintf("%d/%d", p.Targets, sc.Targets), strconv.FormatInt(p.Open, 10),
			strconv.FormatInt(p.Exposed, 10), strconv.FormatInt(p.Closed, 10),
			sc.Created.Format(time.RFC3339), sc.Args)
	}
	return t.flush()
}

func (a *app) cancelScan(ctx context.Context, f *scansFlags, id string) error {
	nc, js, err := connectNATS(ctx, "cluster", f.cluster, "ajar scans", a.logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	sc, err := cluster.Cancel(ctx, js, id)
	if errors.Is(err, cluster.ErrNoScan) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "ajar: scan %s cancelled after %d of %d shards; resume it with `ajar scans resume %s`\n",
			id, sc.Progress.Shards, sc.Spec.Shards, id)
	}
	return nil
}

func (a *app) resumeScan(ctx context.Context, f *scansFlags, id string) error {
	if f.ackWait < time.Second {
		return usagef("--ack-wait must be at least 1s, got %s", f.ackWait)
	}
	st, err := a.openPostgres(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	nc, js, err := connectNATS(ctx, "cluster", f.cluster, "ajar coordinator", a.logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	c := &cluster.Coordinator{JS: js, Store: st, AckWait: f.ackWait, Transient: postgres.IsTransient}
	sc, err := c.Resume(ctx, id)
	if errors.Is(err, cluster.ErrNoScan) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "ajar: scan %s resumed: %d of %d shards done\n", id, sc.Progress.Shards, sc.Spec.Shards)
	}
	return a.followClusterScan(ctx, c, sc, f.cluster)
}
