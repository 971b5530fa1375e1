package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/server"
)

func (a *app) discloseCommand() *cobra.Command {
	var d ajar.Disclosure
	var plugin string
	cmd := &cobra.Command{
		Use:   "disclose IP:PORT --state STATE",
		Short: "Record where the disclosure of an exposure stands",
		Long: `disclose records a step of telling an exposure's owner: new → triaged →
notified (to whom, how) → acknowledged → fixed, or ignored. "fixed" is also
set on its own when a scan finds the exposure closed. Every change goes to
the exposure's audit log (ajar show, the API, the UI).`,
		Example: `  ajar disclose 127.0.10.20:3306 --state notified --contact security@example.com --channel email
  ajar disclose 127.0.10.20:3306 --state acknowledged --note "ticket 4711"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := server.ValidateDisclosure(&d); err != nil {
				return usageError{err}
			}
			d.By, d.At = "cli", time.Now().UTC()
			return a.withExposure(cmd.Context(), args[0], plugin, func(st ajar.Store, rec *ajar.Record) error {
				if err := st.(ajar.DisclosureStore).SetDisclosure(cmd.Context(), rec.ID, d); err != nil {
					return fmt.Errorf("set disclosure: %w", err)
				}
				if !a.quiet {
					fmt.Fprintf(a.stdout, "%s %s: disclosure %s\n", rec.Last.Target, rec.Last.Plugin, d.State)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&d.State, "state", "", "new, triaged, notified, acknowledged, fixed or ignored")
	fl.StringVar(&d.Contact, "contact", "", "whom you notified (needed with --state notified)")
	fl.StringVar(&d.Channel, "channel", "", "how: email, form, phone, …")
	fl.StringVar(&d.Note, "note", "", "anything worth keeping")
	fl.StringVar(&plugin, "plugin", "", "which exposure, when several probes found one on the port")
	_ = cmd.MarkFlagRequired("state")
	return cmd
}

func (a *app) reportCommand() *cobra.Command {
	var format, plugin string
	cmd := &cobra.Command{
		Use:     "report IP:PORT",
		Short:   "Print a disclosure report: evidence, redacted samples, timeline",
		Example: "  ajar report 127.0.10.20:3306 > report.md\n  ajar report 127.0.10.20:3306 --format json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "json" {
				return usagef("--format must be md or json")
			}
			return a.withExposure(cmd.Context(), args[0], plugin, func(st ajar.Store, rec *ajar.Record) error {
				evs, err := st.Events(cmd.Context(), rec.Last.Key())
				if err != nil {
					return err
				}
				cur, audit, err := st.(ajar.DisclosureStore).Disclosure(cmd.Context(), rec.ID)
				if err != nil {
					return err
				}
				d := &server.Detail{Events: evs, Disclosure: cur, Audit: audit}
				d.Exposure.ID, d.Exposure.Event = rec.ID, rec.Last
				if format == "json" {
					return jsonValue(a.stdout, d)
				}
				return server.WriteReport(a.stdout, d)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	cmd.Flags().StringVar(&plugin, "plugin", "", "which exposure, when several probes found one on the port")
	return cmd
}

// withExposure finds the one exposure at IP:PORT (and plugin) and runs fn.
func (a *app) withExposure(ctx context.Context, target, plugin string, fn func(ajar.Store, *ajar.Record) error) error {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return usagef("%q: give IP:PORT ([IPv6]:PORT)", target)
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.List(ctx, ajar.Filter{Addr: ap.Addr().Unmap(), Port: ap.Port()})
	if err != nil {
		return fmt.Errorf("read exposures: %w", err)
	}
	var match []ajar.Record
	var plugins []string
	for _, r := range recs {
		if r.Last.Plugin == "" {
			continue
		}
		plugins = append(plugins, r.Last.Plugin)
		if plugin == "" || r.Last.Plugin == plugin {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return usageError{errors.New("no exposure stored at " + target + withPlugin(plugin))}
	case 1:
		return fn(st, &match[0])
	}
	return usagef("%s has exposures of several probes (%s): choose one with --plugin", target, strings.Join(plugins, ", "))
}

func withPlugin(p string) string {
	if p == "" {
		return ""
	}
	return " for plugin " + p
}
