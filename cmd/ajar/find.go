package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

func (a *app) findCommand() *cobra.Command {
	var (
		facets []string
		limit  int
		cursor string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "find QUERY",
		Short: "Search stored exposures with the query language",
		Long: `find searches the stored exposures. A query is field:value terms, joined by
AND (implicit), OR and NOT (or -), grouped with parentheses. Values may be
quoted, use * wildcards, CIDRs for ip, and comparisons for numbers, sizes,
times and durations. A word without a field matches dataset and field names.

Fields:
` + fieldHelp(),
		Example: `  ajar find 'protocol:elasticsearch class:cn_resident_id provider:alibaba status:exposed' --facet country
  ajar find 'records>100000 -status:closed' --json
  ajar find 'ip:47.100.0.0/14 open_for>30d'
  ajar find 'name:*.aliyuncs.com OR provider:ali*'
  ajar find 'first_seen>=-7d severity:critical'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := ""
			if len(args) == 1 {
				q = args[0]
			}
			return a.runFind(cmd.Context(), ajar.SearchRequest{Query: q, Limit: limit, Cursor: cursor, Facets: facets}, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&facets, "facet", nil, "count values of these fields: "+strings.Join(query.FacetFields, ", "))
	fl.IntVar(&limit, "limit", 50, "exposures per page (at most 1000)")
	fl.StringVar(&cursor, "cursor", "", "continue after a previous page (its next_cursor)")
	fl.BoolVar(&asJSON, "json", false, "print JSON Lines (schema ajar/1), then a summary object with total, facets and next_cursor")
	return cmd
}

func fieldHelp() string {
	var sb strings.Builder
	for _, f := range query.Fields {
		fmt.Fprintf(&sb, "  %-11s %s\n", f.Name, f.Help)
	}
	return sb.String()
}

func (a *app) runFind(ctx context.Context, req ajar.SearchRequest, asJSON bool) error {
	if req.Limit < 0 {
		return usagef("--limit must not be negative")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	se, ok := st.(ajar.Searcher)
	if !ok {
		return fmt.Errorf("this store cannot search")
	}
	res, err := se.Search(ctx, req)
	var qe *query.Error
	if errors.As(err, &qe) {
		return usageError{err}
	}
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if asJSON {
		for i := range res.Items {
			if err := jsonLine(a.stdout, &res.Items[i].Last); err != nil {
				return err
			}
		}
		return jsonValue(a.stdout, struct {
			Summary bool `json:"summary"`
			*ajar.SearchResult
		}{true, res})
	}
	if len(res.Items) == 0 {
		fmt.Fprintln(a.stdout, "no exposures match")
	} else {
		t := newTable(a.stdout, "TARGET", "PLUGIN", "STATUS", "RECORDS", "SIZE", "SEVERITY", "PROVIDER", "FIRST SEEN", "CLOSED AT")
		for _, r := range res.Items {
			ev := &r.Last
			records, size, sev := "-", "-", "-"
			if ev.Exposure != nil {
				records = strconv.FormatInt(ev.Exposure.Records, 10)
				size = ajar.FormatBytes(ev.Exposure.Bytes)
				sev = string(ev.Exposure.Severity)
			}
			provider := "-"
			if ev.Attribution != nil && ev.Attribution.Provider != "" {
				provider = ev.Attribution.Provider
			}
			closed := "-"
			if ev.ClosedAt != nil {
				closed = formatTime(*ev.ClosedAt)
			}
			t.row(ev.Target.String(), dash(ev.Plugin), string(ev.Status), records, size, sev, provider, formatTime(ev.FirstSeen), closed)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if !a.quiet {
		more := ""
		if res.NextCursor != "" {
			more = fmt.Sprintf("; next page: --cursor %s", res.NextCursor)
		}
		fmt.Fprintf(a.stdout, "\n%d of %d exposures%s\n", len(res.Items), res.Total, more)
	}
	for _, f := range req.Facets {
		fmt.Fprintf(a.stdout, "\n%s\n", strings.ToUpper(f))
		t := newTable(a.stdout, "  VALUE", "COUNT")
		for _, fc := range res.Facets[f] {
			t.row("  "+fc.Value, strconv.FormatInt(fc.Count, 10))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}
