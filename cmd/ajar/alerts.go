package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/alert"
	"github.com/ajar-scan/ajar/server"
)

// alertFlags configure delivery where alerts are sent (serve, watch).
type alertFlags struct {
	smtp, smtpFrom       string
	allowPrivateWebhooks bool
}

func (f *alertFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.smtp, "smtp", "", "SMTP relay (host:port) for e-mail alerts")
	fl.StringVar(&f.smtpFrom, "smtp-from", "ajar@localhost", "sender of e-mail alerts")
	fl.BoolVar(&f.allowPrivateWebhooks, "allow-private-webhooks", false, "let alert rules post to loopback and private addresses")
}

// runAlerts matches and delivers alerts in the background until ctx ends.
func (a *app) runAlerts(ctx context.Context, st ajar.Store, f *alertFlags, every time.Duration) {
	as, ok := st.(alert.Store)
	if !ok {
		return
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, nil))
	m := &alert.Matcher{Store: as}
	d := &alert.Deliverer{Store: as, AllowPrivate: f.allowPrivateWebhooks, SMTP: alert.SMTP{Addr: f.smtp, From: f.smtpFrom}}
	alert.Run(ctx, m, d, every, func(err error) {
		if ctx.Err() == nil {
			logger.Warn("alerts", "err", err)
		}
	})
}

func (a *app) alertsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Owner monitoring: rules that send an alert on every new, changed, wiped or closed exposure",
		Long: `An alert rule matches exposures by address range (--cidr), certificate or host
name (--name, with * wildcards) or autonomous system (--asn), and sends each
change — new, changed, wiped, closed — to a webhook (POST of the JSON event,
signed: X-Ajar-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "UNIX." + body)))
and/or an e-mail address. "ajar serve" and "ajar watch" deliver them; an
outbox in the store keeps every alert until it is delivered.`,
	}
	var r ajar.AlertRule
	var asns []string
	var allowPrivate bool
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a rule",
		Example: `  ajar alerts add --cidr 203.0.113.0/24 --webhook https://hooks.example.com/ajar
  ajar alerts add --name '*.example.com' --asn 64500 --email security@example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range asns {
				n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(s), "AS"), 10, 32)
				if err != nil {
					return usagef("--asn %q is not an AS number", s)
				}
				r.ASNs = append(r.ASNs, uint32(n))
			}
			if err := server.ValidateRule(&r, allowPrivate); err != nil {
				return usageError{err}
			}
			printSecret := false
			if r.Webhook != "" && r.Secret == "" {
				var b [24]byte
				_, _ = rand.Read(b[:])
				r.Secret, printSecret = hex.EncodeToString(b[:]), true
			}
			r.Created = time.Now().UTC()
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.(ajar.AlertStore).AddRule(cmd.Context(), &r); err != nil {
				return fmt.Errorf("add rule: %w", err)
			}
			fmt.Fprintf(a.stdout, "rule %d added\n", r.ID)
			if printSecret {
				fmt.Fprintf(a.stdout, "webhook signing secret (shown once): %s\n", r.Secret)
			}
			return nil
		},
	}
	fl := add.Flags()
	fl.StringVar(&r.Name, "rule-name", "", "a name for the rule")
	fl.StringSliceVar(&r.CIDRs, "cidr", nil, "address ranges to watch (repeatable)")
	fl.StringSliceVar(&r.Names, "name", nil, "certificate or host name patterns, e.g. '*.example.com' (repeatable)")
	fl.StringSliceVar(&asns, "asn", nil, "autonomous systems, e.g. 64500 or AS64500 (repeatable)")
	fl.StringVar(&r.Webhook, "webhook", "", "URL to POST each alert to")
	fl.StringVar(&r.Email, "email", "", "address to mail each alert to")
	fl.StringVar(&r.Secret, "secret", "", "webhook signing secret (default: a random one, printed once)")
	fl.BoolVar(&allowPrivate, "allow-private-webhooks", false, "accept a webhook on a loopback or private address")
	list := &cobra.Command{
		Use:   "list",
		Short: "List rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			rules, err := st.(ajar.AlertStore).Rules(cmd.Context())
			if err != nil {
				return fmt.Errorf("list rules: %w", err)
			}
			t := newTable(a.stdout, "ID", "NAME", "MATCH", "WEBHOOK", "EMAIL")
			for _, r := range rules {
				var m []string
				m = append(m, r.CIDRs...)
				m = append(m, r.Names...)
				for _, n := range r.ASNs {
					m = append(m, fmt.Sprintf("AS%d", n))
				}
				t.row(strconv.FormatInt(r.ID, 10), dash(r.Name), strings.Join(m, " "), dash(r.Webhook), dash(r.Email))
			}
			return t.flush()
		},
	}
	rm := &cobra.Command{
		Use:   "rm ID",
		Short: "Remove a rule and its undelivered alerts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("rule id %q is not a number", args[0])
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.(ajar.AlertStore).DeleteRule(cmd.Context(), id)
			if errors.Is(err, ajar.ErrNotFound) {
				return usagef("no rule %d (see ajar alerts list)", id)
			}
			return err
		},
	}
	cmd.AddCommand(add, list, rm)
	return cmd
}
