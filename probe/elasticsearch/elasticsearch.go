// Package elasticsearch is the probe for Elasticsearch 5.x–8.x and OpenSearch
// 1.x–2.x: it lists indices, their fields and a few documents, read-only.
package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Elasticsearch and OpenSearch plugin. It sends GET requests
// only: /, /_cat/indices, /_mapping, /{index}/_search?size=N and one of
// /_xpack or /_cat/plugins.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "elasticsearch"; OpenSearch is reported by the same plugin.
func (*Prober) Name() string { return "elasticsearch" }

// Protocols returns the protocols the plugin understands. HTTP is among
// them because a cluster is an HTTP server that identification may not
// tell apart from others.
func (*Prober) Protocols() []string { return []string{"elasticsearch", "opensearch", "http"} }

// DefaultPorts returns the REST port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{9200} }

// Bounds on what the probe reads.
const (
	defaultTimeout = 30 * time.Second
	// Per-answer byte limits: the root answer is small, a _cat/indices row is
	// about 250 bytes, a sample of a few documents stays under a megabyte.
	maxRoot    = 64 << 10
	maxCat     = 8 << 20
	maxMapping = 8 << 20
	maxSearch  = 1 << 20
	// maxSampled is the most indices sampled per cluster.
	maxSampled = 32
	// evidenceMax bounds the excerpt kept as evidence.
	evidenceMax = 512
)

// Requests, also used as evidence.
const (
	catIndices = "/_cat/indices?format=json&bytes=b"
	mapping    = "/_mapping"
)

// Requester sends one GET to a cluster's REST API and returns the answer
// bounded to max bytes: directly, or through a front end such as Kibana's
// console proxy.
type Requester interface {
	Get(ctx context.Context, target string, max int64) (*httpc.Response, error)
	// Evidence renders the request for target as the evidence shows it.
	Evidence(target string) string
}

// direct reaches the cluster itself.
type direct struct{ c *httpc.Client }

func (d direct) Get(ctx context.Context, target string, max int64) (*httpc.Response, error) {
	d.c.MaxBody = max
	return d.c.Get(ctx, target, nil)
}

func (direct) Evidence(target string) string { return httpc.RequestLine(http.MethodGet, target) }

// Probe reads what the cluster gives away without credentials. Security on
// (401 security_exception) is protected; an HTTP server that is not a
// cluster is open, without an error. Once _cat/indices proved the exposure,
// a later failure returns the exposure so far with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	r := direct{c}
	open := &probe.Result{Status: ajar.StatusOpen}

	resp, err := r.Get(ctx, "/", maxRoot)
	if err != nil {
		return open, fmt.Errorf("read GET /: %w", err)
	}
	claimed := t.Service.Protocol == "elasticsearch" || t.Service.Protocol == "opensearch"
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		ref, ok := ParseRefusal(resp.Header, resp.Body)
		if !ok && !claimed {
			open.Detail = "not Elasticsearch: GET / answered HTTP " + strconv.Itoa(resp.Status)
			return open, nil
		}
		if ref.Product == "" {
			ref.Product = "Elasticsearch"
		}
		if ref.Reason == "" {
			ref.Reason = "HTTP " + strconv.Itoa(resp.Status)
		}
		return &probe.Result{Status: ajar.StatusProtected, Product: ref.Product, Detail: ref.Reason}, nil
	default:
		open.Detail = "not Elasticsearch: GET / answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	}
	root, err := ParseRoot(resp.Body)
	if err != nil {
		open.Detail = "not Elasticsearch: GET / is not a cluster's answer"
		return open, nil
	}
	res := &probe.Result{Status: ajar.StatusOpen, Product: root.Product(), Version: root.Version.Number}

	exp, refused, err := Survey(ctx, r, "elasticsearch", t.Options)
	if refused != "" {
		res.Status, res.Detail = ajar.StatusProtected, refused
		return res, nil
	}
	if exp == nil {
		return res, err
	}
	res.Status, res.Exposure = ajar.StatusExposed, exp
	if err != nil {
		return res, err
	}
	if Unrestricted(ctx, r, root.Product()) {
		exp.Access = ajar.AccessAdmin
	}
	return res, nil
}

// Survey reads what a cluster gives away through r: its indices with their
// records and bytes, their field names and a few documents of each. A
// cluster that refuses _cat/indices returns its reason in refused and no
// exposure. After the listing, a failure returns the exposure so far with
// the error.
func Survey(ctx context.Context, r Requester, plugin string, opts probe.Options) (exp *ajar.Exposure, refused string, err error) {
	resp, err := r.Get(ctx, catIndices, maxCat)
	if err != nil {
		return nil, "", fmt.Errorf("list indices: %w", err)
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		ref, _ := ParseRefusal(resp.Header, resp.Body)
		if ref.Reason == "" {
			ref.Reason = "listing indices refused: HTTP " + strconv.Itoa(resp.Status)
		}
		return nil, ref.Reason, nil
	default:
		return nil, "", fmt.Errorf("list indices: %w", httpc.Unexpected(http.MethodGet, catIndices, resp))
	}
	indices, err := ParseCatIndices(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("list indices: %w", err)
	}
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}
	indices = keep(indices, opts.MaxDatasets)

	exp = &ajar.Exposure{
		Plugin:   plugin,
		Access:   ajar.AccessRead,
		Datasets: make([]ajar.Dataset, 0, len(indices)),
		Evidence: &ajar.Evidence{Request: r.Evidence(catIndices), Response: httpc.Excerpt(resp.Body, evidenceMax)},
	}
	for _, ix := range indices {
		d := ajar.Dataset{Name: ix.Name, Records: max(ix.Docs, 0), Bytes: max(ix.Bytes, 0), System: ix.System()}
		// A closed index reports no count: the figure is unknown, not zero.
		d.Estimated = ix.Docs < 0
		exp.Datasets = append(exp.Datasets, d)
	}
	exp.Total()

	if err := fields(ctx, r, exp.Datasets); err != nil {
		return exp, "", err
	}
	if opts.Samples > 0 {
		if err := sample(ctx, r, exp, opts.Samples); err != nil {
			return exp, "", err
		}
	}
	return exp, "", nil
}

// keep caps the listing at n indices: the data indices with the most
// documents first, then sorts what is kept by name.
func keep(indices []Index, n int) []Index {
	if len(indices) > n {
		slices.SortStableFunc(indices, func(a, b Index) int {
			if a.System() != b.System() {
				if a.System() {
					return 1
				}
				return -1
			}
			return int(min(max(b.Docs-a.Docs, -1), 1))
		})
		indices = indices[:n]
	}
	slices.SortFunc(indices, func(a, b Index) int { return strings.Compare(a.Name, b.Name) })
	return indices
}

// fields fills the datasets' field names from the cluster's mapping. A
// mapping too large to read at once is read index by index for the
// datasets that hold data.
func fields(ctx context.Context, r Requester, datasets []ajar.Dataset) error {
	resp, err := r.Get(ctx, mapping, maxMapping)
	if errors.Is(err, httpc.ErrTooLarge) {
		for i := range datasets {
			d := &datasets[i]
			if d.System || d.Records == 0 || i >= maxSampled {
				continue
			}
			target := "/" + url.PathEscape(d.Name) + mapping
			resp, err := r.Get(ctx, target, maxMapping)
			if err != nil {
				return fmt.Errorf("read mapping of %s: %w", d.Name, err)
			}
			if resp.Status != http.StatusOK {
				continue
			}
			m, err := ParseMapping(resp.Body)
			if err != nil {
				return fmt.Errorf("read mapping of %s: %w", d.Name, err)
			}
			d.Fields = m[d.Name]
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	if resp.Status != http.StatusOK {
		// Some roles may list indices without reading mappings.
		return nil
	}
	m, err := ParseMapping(resp.Body)
	if err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	for i := range datasets {
		datasets[i].Fields = m[datasets[i].Name]
	}
	return nil
}

// sample reads n documents of each data index, ransom notes first: a note
// must be sampled even on a cluster with hundreds of indices.
func sample(ctx context.Context, r Requester, exp *ajar.Exposure, n int) error {
	var order []int
	for i, d := range exp.Datasets {
		if !d.System && d.Records != 0 {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		na, nb := noteLike(exp.Datasets[a].Name), noteLike(exp.Datasets[b].Name)
		switch {
		case na && !nb:
			return -1
		case nb && !na:
			return 1
		}
		return 0
	})
	if len(order) > maxSampled {
		order = order[:maxSampled]
	}
	for _, i := range order {
		name := exp.Datasets[i].Name
		target := "/" + url.PathEscape(name) + "/_search?size=" + strconv.Itoa(n)
		resp, err := r.Get(ctx, target, maxSearch)
		if err != nil {
			return fmt.Errorf("sample %s: %w", name, err)
		}
		if resp.Status != http.StatusOK {
			// Index-level permissions or a closed index: no sample.
			continue
		}
		docs, err := ParseHits(resp.Body, n)
		for _, d := range docs {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: d})
		}
		if err != nil {
			return fmt.Errorf("sample %s: %w", name, err)
		}
	}
	return nil
}

// noteLike reports whether an index name is one ransom attacks leave
// behind (read_me, recover_your_data, …). The enrich stage decides; the
// probe only makes sure such an index is sampled.
func noteLike(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"read_me", "readme", "recover", "warning", "how_to", "restore", "meow", "ransom"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Unrestricted reports whether the cluster runs without any security, so
// that an anonymous client may also write, delete and reconfigure:
// Elasticsearch says so in /_xpack (features.security.enabled false),
// OpenSearch by listing no security plugin in /_cat/plugins. Any doubt
// answers false.
func Unrestricted(ctx context.Context, r Requester, product string) bool {
	if product == "OpenSearch" {
		resp, err := r.Get(ctx, "/_cat/plugins?format=json", maxRoot)
		if err != nil || resp.Status != http.StatusOK {
			return false
		}
		var plugins []struct {
			Component string `json:"component"`
		}
		if httpc.DecodeLimited(resp.Body, &plugins) != nil {
			return false
		}
		for _, p := range plugins {
			if strings.Contains(p.Component, "security") {
				return false
			}
		}
		return true
	}
	resp, err := r.Get(ctx, "/_xpack", maxRoot)
	if err != nil || resp.Status != http.StatusOK {
		return false
	}
	var x struct {
		Features struct {
			Security *struct {
				Enabled *bool `json:"enabled"`
			} `json:"security"`
		} `json:"features"`
	}
	if httpc.DecodeLimited(resp.Body, &x) != nil || x.Features.Security == nil || x.Features.Security.Enabled == nil {
		return false
	}
	return !*x.Features.Security.Enabled
}
