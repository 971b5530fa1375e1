package attribution

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Range is one published address range of a provider.
type Range struct {
	Prefix   netip.Prefix
	Provider string
	// Region and Service as the provider names them (ap-northeast-2, EC2),
	// when it does.
	Region  string
	Service string
	// Source names the import the range came from (aws-ip-ranges,
	// google-cloud, azure-service-tags, csv:FILE): importing a newer file
	// of the same source replaces it.
	Source string
}

// Formats of the range files ajar imports.
const (
	FormatAWS    = "aws"    // https://ip-ranges.amazonaws.com/ip-ranges.json
	FormatGoogle = "google" // https://www.gstatic.com/ipranges/cloud.json
	FormatAzure  = "azure"  // the Service Tags JSON download
	FormatCSV    = "csv"    // cidr,provider,region[,service]
)

// maxRangeFile bounds a file to import: the largest published one, Azure's,
// is under 10 MB.
const maxRangeFile = 256 << 20

// Parse reads a range file in format (FormatAWS, FormatGoogle, FormatAzure,
// FormatCSV, or "" to tell from the content). name is the file name, which
// names a CSV source.
func Parse(r io.Reader, format, name string) ([]Range, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRangeFile+1))
	if err != nil {
		return nil, fmt.Errorf("read ranges: %w", err)
	}
	if len(b) > maxRangeFile {
		return nil, fmt.Errorf("read ranges: larger than %d bytes", maxRangeFile)
	}
	if format == "" {
		format = sniff(b)
	}
	switch format {
	case FormatAWS:
		return parseAWS(b)
	case FormatGoogle:
		return parseGoogle(b)
	case FormatAzure:
		return parseAzure(b)
	case FormatCSV:
		return parseCSV(b, "csv:"+filepath.Base(name))
	}
	return nil, fmt.Errorf("unknown range format %q: want aws, google, azure or csv", format)
}

// sniff tells the format of a file from its first members.
func sniff(b []byte) string {
	var probe struct {
		SyncToken    *json.RawMessage `json:"syncToken"`
		CreateDate   *json.RawMessage `json:"createDate"`
		CreationTime *json.RawMessage `json:"creationTime"`
		ChangeNumber *json.RawMessage `json:"changeNumber"`
		Values       *json.RawMessage `json:"values"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return FormatCSV
	}
	switch {
	case probe.CreateDate != nil:
		return FormatAWS
	case probe.CreationTime != nil:
		return FormatGoogle
	case probe.Values != nil || probe.ChangeNumber != nil:
		return FormatAzure
	case probe.SyncToken != nil:
		return FormatAWS
	}
	return FormatCSV
}

// parseAWS reads ip-ranges.json: prefixes[] with ip_prefix, ipv6_prefixes[]
// with ipv6_prefix, each with region and service.
// https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-syntax.html
func parseAWS(b []byte) ([]Range, error) {
	var f struct {
		Prefixes []struct {
			IPPrefix string `json:"ip_prefix"`
			Region   string `json:"region"`
			Service  string `json:"service"`
		} `json:"prefixes"`
		IPv6Prefixes []struct {
			IPv6Prefix string `json:"ipv6_prefix"`
			Region     string `json:"region"`
			Service    string `json:"service"`
		} `json:"ipv6_prefixes"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse AWS ip-ranges.json: %w", err)
	}
	var out []Range
	add := func(p, region, service string) error {
		pr, err := parsePrefix(p)
		if err != nil {
			return fmt.Errorf("parse AWS ip-ranges.json: %w", err)
		}
		out = append(out, Range{Prefix: pr, Provider: "aws", Region: region, Service: service, Source: "aws-ip-ranges"})
		return nil
	}
	for _, p := range f.Prefixes {
		if err := add(p.IPPrefix, p.Region, p.Service); err != nil {
			return nil, err
		}
	}
	for _, p := range f.IPv6Prefixes {
		if err := add(p.IPv6Prefix, p.Region, p.Service); err != nil {
			return nil, err
		}
	}
	return nonEmpty(out, "AWS ip-ranges.json")
}

// parseGoogle reads cloud.json: prefixes[] with ipv4Prefix or ipv6Prefix,
// service and scope (the region).
func parseGoogle(b []byte) ([]Range, error) {
	var f struct {
		Prefixes []struct {
			IPv4    string `json:"ipv4Prefix"`
			IPv6    string `json:"ipv6Prefix"`
			Service string `json:"service"`
			Scope   string `json:"scope"`
		} `json:"prefixes"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse Google cloud.json: %w", err)
	}
	var out []Range
	for _, p := range f.Prefixes {
		s := cmp.Or(p.IPv4, p.IPv6)
		pr, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("parse Google cloud.json: %w", err)
		}
		out = append(out, Range{Prefix: pr, Provider: "google", Region: p.Scope, Service: p.Service, Source: "google-cloud"})
	}
	return nonEmpty(out, "Google cloud.json")
}

// parseAzure reads the Service Tags file: values[] with name and
// properties {region, systemService, addressPrefixes[]}. A prefix is listed
// under several tags; the regional tag of a service is kept.
func parseAzure(b []byte) ([]Range, error) {
	var f struct {
		Values []struct {
			Name       string `json:"name"`
			Properties struct {
				Region          string   `json:"region"`
				SystemService   string   `json:"systemService"`
				AddressPrefixes []string `json:"addressPrefixes"`
			} `json:"properties"`
		} `json:"values"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse Azure service tags: %w", err)
	}
	best := map[netip.Prefix]Range{}
	for _, v := range f.Values {
		for _, s := range v.Properties.AddressPrefixes {
			pr, err := parsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("parse Azure service tags, tag %s: %w", v.Name, err)
			}
			r := Range{Prefix: pr, Provider: "azure", Region: v.Properties.Region, Service: v.Properties.SystemService, Source: "azure-service-tags"}
			old, seen := best[pr]
			if !seen || score(r) > score(old) {
				best[pr] = r
			}
		}
	}
	out := make([]Range, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	return nonEmpty(out, "Azure service tags")
}

// score prefers ranges that say more: a region, then a service.
func score(r Range) int {
	s := 0
	if r.Region != "" {
		s += 2
	}
	if r.Service != "" {
		s++
	}
	return s
}

// parseCSV reads cidr,provider,region[,service] lines; blank lines, lines
// starting with # and a header line starting with "cidr" are skipped.
func parseCSV(b []byte, source string) ([]Range, error) {
	cr := csv.NewReader(strings.NewReader(string(b)))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var out []Range
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse range CSV: %w", err)
		}
		if len(rec) == 0 || line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "cidr") {
			continue
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("parse range CSV, line %d: want cidr,provider,region", line)
		}
		pr, err := parsePrefix(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("parse range CSV, line %d: %w", line, err)
		}
		r := Range{Prefix: pr, Provider: strings.ToLower(strings.TrimSpace(rec[1])), Source: source}
		if r.Provider == "" || strings.ContainsAny(r.Provider, " \t") {
			return nil, fmt.Errorf("parse range CSV, line %d: provider %q", line, rec[1])
		}
		if len(rec) > 2 {
			r.Region = strings.TrimSpace(rec[2])
		}
		if len(rec) > 3 {
			r.Service = strings.TrimSpace(rec[3])
		}
		out = append(out, r)
	}
	return nonEmpty(out, "range CSV")
}

func nonEmpty(rs []Range, what string) ([]Range, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("parse %s: no ranges in it", what)
	}
	return rs, nil
}

// parsePrefix parses a CIDR and masks it; an address alone is a /32 or
// /128.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Merge returns the ranges of existing whose source is not among those of
// imported, plus imported, sorted and without duplicates: importing a file
// replaces what an earlier import of the same source brought.
func Merge(existing, imported []Range) []Range {
	sources := map[string]bool{}
	for _, r := range imported {
		sources[r.Source] = true
	}
	out := slices.DeleteFunc(slices.Clone(existing), func(r Range) bool { return sources[r.Source] })
	out = append(out, imported...)
	sortRanges(out)
	return slices.CompactFunc(out, func(a, b Range) bool { return a == b })
}

func sortRanges(rs []Range) {
	slices.SortFunc(rs, func(a, b Range) int {
		return cmp.Or(a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Region, b.Region))
	})
}

// The ranges file sits beside the store (ajar.db.ranges): one header line,
// then one range a line, tab-separated (prefix, provider, region, service,
// source), sorted by prefix. It is text so that people can read it and diff
// two imports.
const fileHeader = "# ajar ranges 1: prefix, provider, region, service, source"

// WriteFile writes rs to path, atomically.
func WriteFile(path string, rs []Range) error {
	sortRanges(rs)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write ranges: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	fmt.Fprintln(w, fileHeader)
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Prefix, r.Provider, field(r.Region), field(r.Service), field(r.Source))
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("write ranges: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write ranges: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write ranges: %w", err)
	}
	return nil
}

// field keeps a value on its line and column: tabs and newlines become
// spaces, an empty value "-".
func field(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

// ReadFile reads a ranges file. A file that does not exist holds no ranges.
func ReadFile(path string) ([]Range, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ranges: %w", err)
	}
	defer f.Close()
	rs, err := readRanges(f)
	if err != nil {
		return nil, fmt.Errorf("read ranges %s: %w", path, err)
	}
	return rs, nil
}

func readRanges(r io.Reader) ([]Range, error) {
	sc := bufio.NewScanner(r)
	var out []Range
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Split(t, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: want 5 tab-separated fields, got %d", line, len(f))
		}
		p, err := parsePrefix(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		unset := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		out = append(out, Range{Prefix: p, Provider: f[1], Region: unset(f[2]), Service: unset(f[3]), Source: unset(f[4])})
	}
	return out, sc.Err()
}

// generic services are the catch-all tags that list every range of a
// provider: a more specific tag of the same prefix says more.
var generic = map[string]bool{"AMAZON": true, "AzureCloud": true, "": true}

// Table answers which published range holds an address: the most specific
// one, and of the same prefix the one with the most specific service.
type Table struct {
	byBits map[int]map[netip.Prefix]Range
	bits   []int // prefix lengths present, longest first
}

// NewTable indexes rs for lookups.
func NewTable(rs []Range) *Table {
	t := &Table{byBits: map[int]map[netip.Prefix]Range{}}
	for _, r := range rs {
		key := r.Prefix.Bits()
		if r.Prefix.Addr().Is6() {
			key += 1000 // IPv6 lengths apart from IPv4 ones
		}
		m := t.byBits[key]
		if m == nil {
			m = map[netip.Prefix]Range{}
			t.byBits[key] = m
			t.bits = append(t.bits, key)
		}
		if old, ok := m[r.Prefix]; !ok || generic[old.Service] && !generic[r.Service] {
			m[r.Prefix] = r
		}
	}
	slices.Sort(t.bits)
	slices.Reverse(t.bits)
	return t
}

// Len is the number of distinct prefixes.
func (t *Table) Len() int {
	n := 0
	for _, m := range t.byBits {
		n += len(m)
	}
	return n
}

// Lookup returns the most specific range holding a.
func (t *Table) Lookup(a netip.Addr) (Range, bool) {
	if t == nil || !a.IsValid() {
		return Range{}, false
	}
	a = a.Unmap()
	for _, key := range t.bits {
		bits := key
		if key >= 1000 {
			if !a.Is6() {
				continue
			}
			bits -= 1000
		} else if !a.Is4() {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if r, ok := t.byBits[key][p]; ok {
			return r, true
		}
	}
	return Range{}, false
}
