package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
)

func (a *app) listCommand() *cobra.Command {
	var (
		status, protocol []string
		limit            int
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stored exposures and services",
		Long: `list prints one line per exposure key (address, port, plugin) with its
current status and timeline. Filter by --status (exposed, protected, open,
closed, wiped) and --protocol.`,
		Example: `  ajar list --status exposed
  ajar list --protocol redis,mysql --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := ajar.Filter{Protocol: protocol, Limit: limit}
			for _, s := range status {
				st := ajar.Status(strings.ToLower(s))
				if !st.Valid() {
					return usagef("--status %q: use exposed, protected, open, closed or wiped", s)
				}
				f.Status = append(f.Status, st)
			}
			if limit < 0 {
				return usagef("--limit must not be negative")
			}
			return a.runList(cmd.Context(), f, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&status, "status", nil, "only these statuses (comma-separated)")
	fl.StringSliceVar(&protocol, "protocol", nil, "only these protocols (comma-separated)")
	fl.IntVar(&limit, "limit", 0, "at most this many lines (0: all)")
	fl.BoolVar(&asJSON, "json", false, "print JSON Lines (schema ajar/1): the latest event of each")
	return cmd
}

func (a *app) runList(ctx context.Context, f ajar.Filter, asJSON bool) error {
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.List(ctx, f)
	if err != nil {
		return fmt.Errorf("list exposures: %w", err)
	}
	if asJSON {
		for i := range recs {
			if err := jsonLine(a.stdout, &recs[i].Last); err != nil {
				return err
			}
		}
		return nil
	}
	if len(recs) == 0 {
		if !a.quiet {
			fmt.Fprintln(a.stdout, "no stored exposures match")
		}
		return nil
	}
	t := newTable(a.stdout, "TARGET", "PLUGIN", "STATUS", "RECORDS", "SIZE", "SEVERITY", "FIRST SEEN", "LAST SEEN", "CLOSED AT")
	for _, r := range recs {
		ev := &r.Last
		records, size, sev := "-", "-", "-"
		if ev.Exposure != nil {
			records = strconv.FormatInt(ev.Exposure.Records, 10)
			size = ajar.FormatBytes(ev.Exposure.Bytes)
			sev = string(ev.Exposure.Severity)
		}
		closed := "-"
		if ev.ClosedAt != nil {
			closed = formatTime(*ev.ClosedAt)
		}
		t.row(ev.Target.String(), dash(ev.Plugin), string(ev.Status), records, size, sev,
			formatTime(ev.FirstSeen), formatTime(ev.LastSeen), closed)
	}
	return t.flush()
}
