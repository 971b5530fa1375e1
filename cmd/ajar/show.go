package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
)

func (a *app) showCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show IP:PORT | IP",
		Short: "Show the exposures on a port: service, datasets, evidence and timeline",
		Example: `  ajar show 127.0.10.10:6379
  ajar show 127.0.10.20 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := ajar.Filter{}
			if ap, err := netip.ParseAddrPort(args[0]); err == nil {
				f.Addr, f.Port = ap.Addr().Unmap(), ap.Port()
			} else if ad, err := netip.ParseAddr(args[0]); err == nil {
				f.Addr = ad.Unmap()
			} else {
				return usagef("show %q: give IP:PORT ([IPv6]:PORT) or IP", args[0])
			}
			return a.runShow(cmd.Context(), f, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the latest event of each exposure and its events as JSON")
	return cmd
}

func (a *app) runShow(ctx context.Context, f ajar.Filter, asJSON bool) error {
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.List(ctx, f)
	if err != nil {
		return fmt.Errorf("read exposures: %w", err)
	}
	if len(recs) == 0 {
		fmt.Fprintf(a.stderr, "ajar: nothing stored for %s\n", showName(f))
		return exitCodeError{code: exitNo}
	}
	for i, r := range recs {
		evs, err := st.Events(ctx, r.Last.Key())
		if err != nil {
			return fmt.Errorf("read events of %s: %w", r.Last.Key(), err)
		}
		if asJSON {
			b, err := json.Marshal(struct {
				Exposure *ajar.Event  `json:"exposure"`
				Events   []ajar.Event `json:"events"`
			}{&r.Last, evs})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(b))
			continue
		}
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		if err := writeShow(a.stdout, &r.Last, evs); err != nil {
			return err
		}
	}
	return nil
}

func showName(f ajar.Filter) string {
	if f.Port != 0 {
		return netip.AddrPortFrom(f.Addr, f.Port).String()
	}
	return f.Addr.String()
}

// writeShow prints one exposure for people.
func writeShow(w io.Writer, ev *ajar.Event, events []ajar.Event) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s  %s  %s\n", ev.Target, dash(ev.Plugin), strings.ToUpper(string(ev.Status)))
	p("  service     %s %s (%s)\n", dash(ev.Protocol), product(ev), ev.Transport)
	if ev.Detail != "" {
		p("  detail      %s\n", ev.Detail)
	}
	p("  first seen  %s\n  last seen   %s\n", formatTime(ev.FirstSeen), formatTime(ev.LastSeen))
	if ev.ClosedAt != nil {
		open := ev.ClosedAt.Sub(ev.FirstSeen)
		p("  closed at   %s (open for %s)\n", formatTime(*ev.ClosedAt), formatDuration(open))
	} else if ev.Status == ajar.StatusExposed || ev.Status == ajar.StatusOpen {
		p("  open for    %s so far\n", formatDuration(ev.LastSeen.Sub(ev.FirstSeen)))
	}
	if e := ev.Exposure; e != nil {
		p("  access      %s\n", e.Access)
		p("  records     %d in %d datasets, %s\n", e.Records, countUser(e.Datasets), ajar.FormatBytes(e.Bytes))
		p("  severity    %s (%s)\n", e.Severity, e.SeverityRule)
		if len(e.Classes) > 0 {
			p("  classes     %s\n", strings.Join(e.Classes, ", "))
		}
		if len(e.Datasets) > 0 {
			p("\n")
			t := newTable(w, "  DATASET", "RECORDS", "SIZE", "FIELDS")
			for _, d := range e.Datasets {
				rec := strconv.FormatInt(d.Records, 10)
				if d.Estimated {
					rec = "~" + rec
				}
				name := d.Name
				if d.System {
					name += " (system)"
				}
				t.row("  "+name, rec, ajar.FormatBytes(d.Bytes), fieldList(d.Fields))
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		if e.Evidence != nil {
			p("\n  evidence    %s\n", e.Evidence.Request)
			for _, line := range strings.Split(strings.TrimRight(e.Evidence.Response, "\n"), "\n") {
				p("              %s\n", line)
			}
		}
	}
	p("\n  timeline\n")
	t := newTable(w, "  TIME", "STATUS", "RECORDS", "SCAN", "DETAIL")
	for _, e := range events {
		rec := "-"
		if e.Exposure != nil {
			rec = strconv.FormatInt(e.Exposure.Records, 10)
		}
		status := string(e.Status)
		if e.OpenFor != nil {
			status += " after " + formatDuration(time.Duration(*e.OpenFor)*time.Second)
		}
		t.row("  "+formatTime(e.Time), status, rec, dash(e.Scan), e.Detail)
	}
	return t.flush()
}

func countUser(ds []ajar.Dataset) int {
	n := 0
	for _, d := range ds {
		if !d.System {
			n++
		}
	}
	return n
}

func fieldList(f []string) string {
	const max = 8
	if len(f) > max {
		return strings.Join(f[:max], ", ") + fmt.Sprintf(", … (%d)", len(f))
	}
	return strings.Join(f, ", ")
}
