package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar/enrich/attribution"
)

// The ranges live in a file beside the store (ajar.db.ranges), not in the
// store: attribution reads them the same way whatever the store is (SQLite,
// or PostgreSQL for a cluster), a worker can be handed the file, and the
// Store interface stays about events and exposures.

// rangesPath is the ranges file of the store the flags name.
func (a *app) rangesPath() (string, error) {
	p, err := a.storePath()
	if err != nil {
		return "", err
	}
	return p + ".ranges", nil
}

func (a *app) rangesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ranges",
		Short: "Import and list the IP ranges providers publish, for attribution",
		Long: `ranges keeps the address ranges cloud providers publish, in a file beside
the store (ajar.db.ranges). A scan attributes every service whose address is in
one of them to that provider, with the range as the reason.`,
		Args: cobra.NoArgs,
	}
	var format string
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a provider's range file (AWS ip-ranges.json, Google cloud.json, Azure service tags, CSV)",
		Long: `import reads a range file and merges it into the store's ranges: an import
replaces the ranges an earlier import of the same source brought (aws, google,
azure, or the CSV file's name). The format is told from the content unless
--format says it. CSV lines are cidr,provider,region[,service].`,
		Example: `  ajar ranges import ip-ranges.json
  ajar ranges import ServiceTags_Public_20261123.json --format azure
  ajar ranges import mine.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.importRanges(args[0], format)
		},
	}
	imp.Flags().StringVar(&format, "format", "", "aws, google, azure or csv (default: told from the content)")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the imported ranges by source and provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.listRanges(cmd.Context(), asJSON)
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per source and provider")
	cmd.AddCommand(imp, list)
	return cmd
}

func (a *app) importRanges(file, format string) error {
	switch format {
	case "", attribution.FormatAWS, attribution.FormatGoogle, attribution.FormatAzure, attribution.FormatCSV:
	default:
		return usagef("--format %q: use aws, google, azure or csv", format)
	}
	path, err := a.rangesPath()
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return usageError{fmt.Errorf("import ranges: %w", err)}
	}
	defer f.Close()
	imported, err := attribution.Parse(f, format, file)
	if err != nil {
		return usageError{fmt.Errorf("import ranges from %s: %w", file, err)}
	}
	existing, err := attribution.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (move the file away to start afresh)", err)
	}
	merged := attribution.Merge(existing, imported)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("import ranges: %w", err)
	}
	if err := attribution.WriteFile(path, merged); err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "ajar: imported %d ranges of %s from %s; %d ranges in %s\n",
			len(imported), imported[0].Source, file, len(merged), path)
	}
	return nil
}

// rangeGroup is one line of ranges list.
type rangeGroup struct {
	Source   string `json:"source"`
	Provider string `json:"provider"`
	Prefixes int    `json:"prefixes"`
	IPv6     int    `json:"ipv6_prefixes"`
}

func (a *app) listRanges(_ context.Context, asJSON bool) error {
	path, err := a.rangesPath()
	if err != nil {
		return err
	}
	rs, err := attribution.ReadFile(path)
	if err != nil {
		return err
	}
	groups := map[[2]string]*rangeGroup{}
	for _, r := range rs {
		k := [2]string{r.Source, r.Provider}
		g := groups[k]
		if g == nil {
			g = &rangeGroup{Source: r.Source, Provider: r.Provider}
			groups[k] = g
		}
		g.Prefixes++
		if r.Prefix.Addr().Is6() {
			g.IPv6++
		}
	}
	var out []rangeGroup
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y rangeGroup) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Provider, y.Provider))
	})
	if asJSON {
		for _, g := range out {
			if err := jsonValue(a.stdout, g); err != nil {
				return err
			}
		}
		return nil
	}
	if len(out) == 0 {
		if !a.quiet {
			fmt.Fprintf(a.stdout, "no ranges imported (%s); see ajar ranges import\n", path)
		}
		return nil
	}
	t := newTable(a.stdout, "SOURCE", "PROVIDER", "PREFIXES", "IPV6")
	for _, g := range out {
		t.row(g.Source, g.Provider, strconv.Itoa(g.Prefixes), strconv.Itoa(g.IPv6))
	}
	return t.flush()
}

// attribution builds the enricher of a scan: the ranges file (--ranges, or
// the store's when it exists), the --mmdb databases and, only when
// --resolver is given, reverse DNS through that server.
func (a *app) attribution(f *scanFlags) (*attribution.Enricher, error) {
	ranges := f.ranges
	if ranges == "" {
		if p, err := a.rangesPath(); err == nil {
			ranges = p
		}
	} else if _, err := os.Stat(ranges); err != nil {
		return nil, usageError{fmt.Errorf("--ranges: %w", err)}
	}
	e, err := attribution.New(attribution.Config{Ranges: ranges, MMDB: f.mmdb, Resolver: f.resolver})
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, usageError{err}
		}
		return nil, usageError{fmt.Errorf("attribution: %w", err)}
	}
	return e, nil
}
