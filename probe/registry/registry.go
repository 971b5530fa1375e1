// Package registry is the probe for Docker registries (the registry HTTP
// API v2): it reads the catalog and each repository's tags, never an image.
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Docker registry plugin. It sends GETs only: /v2/, the
// catalog and the tag lists.
type Prober struct {
	// pageSize is the n= of each catalog request (defaultPageSize when 0).
	pageSize int
}

var _ probe.Prober = (*Prober)(nil)

// Name returns "docker-registry".
func (*Prober) Name() string { return "docker-registry" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"docker-registry"} }

// DefaultPorts returns the registry's usual port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{5000} }

// Bounds on how much of a registry the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// defaultPageSize is the n= of each catalog request.
	defaultPageSize = 100
	// maxCatalogPages is the most catalog requests.
	maxCatalogPages = 10
	// maxTagLists is the most repositories whose tags are read.
	maxTagLists = 50
	// tagPage is the n= of a tag list: more tags than this are counted as
	// this many, estimated.
	tagPage = 1000
	// maxBody bounds each answer.
	maxBody = 1 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
	// detailMax bounds the server message kept as a verdict's detail.
	detailMax = 256
)

// repoName is the grammar of a repository name (the API's "name" path
// component, https://distribution.github.io/distribution/spec/api/#overview):
// lower-case components separated by "/"; nothing else is requested.
var repoName = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// Probe checks /v2/, then lists the catalog and the tags of each
// repository. A 401 is protected; a catalog readable without credentials is
// exposed, with a dataset per repository whose records are its tags.
func (p *Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	c.MaxBody = maxBody

	res := &probe.Result{Status: ajar.StatusOpen, Product: "Docker Registry"}
	r, err := c.Get(ctx, "/v2/", nil)
	if err != nil {
		return res, err
	}
	if refused(r) {
		res.Status, res.Detail = ajar.StatusProtected, authDetail(r)
		return res, nil
	}
	if r.Status != http.StatusOK {
		res.Detail = "GET /v2/: HTTP " + strconv.Itoa(r.Status)
		return res, nil
	}

	size := p.pageSize
	if size <= 0 {
		size = defaultPageSize
	}
	first := "/v2/_catalog?n=" + strconv.Itoa(size)
	var repos []string
	var evidence *ajar.Evidence
	next := first
	pages := 0
	for next != "" && pages < maxCatalogPages {
		pages++
		r, err := c.Get(ctx, next, nil)
		if err != nil {
			if len(repos) == 0 {
				return res, fmt.Errorf("read catalog: %w", err)
			}
			break
		}
		if refused(r) {
			// Token-authenticated registries answer /v2/ and refuse the
			// catalog.
			res.Status, res.Detail = ajar.StatusProtected, authDetail(r)
			return res, nil
		}
		if r.Status != http.StatusOK {
			res.Detail = "GET " + next + ": HTTP " + strconv.Itoa(r.Status)
			return res, nil
		}
		if evidence == nil {
			evidence = &ajar.Evidence{Request: httpc.RequestLine(http.MethodGet, next), Response: httpc.Excerpt(r.Body, evidenceMax)}
		}
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(r.Body, &cat); err != nil {
			return res, fmt.Errorf("read catalog: %w", err)
		}
		repos = append(repos, cat.Repositories...)
		next = nextPage(r.Header.Get("Link"), "/v2/_catalog")
		if next == "" && len(cat.Repositories) == size {
			// No Link header, as older registries: ask after the last name.
			next = first + "&last=" + url.QueryEscape(cat.Repositories[size-1])
		}
		if len(cat.Repositories) == 0 {
			break
		}
	}

	exp := &ajar.Exposure{Plugin: "docker-registry", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}, Evidence: evidence}
	res.Status, res.Exposure = ajar.StatusExposed, exp
	var notes []string
	if next != "" {
		notes = append(notes, fmt.Sprintf("catalog read up to %d repositories", len(repos)))
	}
	max := t.Options.MaxDatasets
	if max <= 0 {
		max = probe.DefaultOptions().MaxDatasets
	}
	tagLists := 0
	var firstErr error
	for _, name := range repos {
		if len(exp.Datasets) >= max || tagLists >= maxTagLists || ctx.Err() != nil {
			notes = append(notes, fmt.Sprintf("tags read for %d of %d repositories", tagLists, len(repos)))
			break
		}
		if !repoName.MatchString(name) || len(name) > 255 {
			continue
		}
		tagLists++
		d, samples, err := tags(ctx, c, name, t.Options.Samples)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("tags of %s: %w", name, err)
			}
			continue
		}
		exp.Datasets = append(exp.Datasets, d)
		for _, s := range samples {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: s})
		}
	}
	exp.Total()
	res.Detail = httpc.Excerpt([]byte(strings.Join(notes, "; ")), detailMax)
	return res, firstErr
}

// tags reads one repository's tag list.
func tags(ctx context.Context, c *httpc.Client, name string, samples int) (ajar.Dataset, []map[string]string, error) {
	target := "/v2/" + name + "/tags/list?n=" + strconv.Itoa(tagPage)
	r, err := c.Get(ctx, target, nil)
	if err != nil {
		return ajar.Dataset{}, nil, err
	}
	if r.Status != http.StatusOK {
		return ajar.Dataset{}, nil, httpc.Unexpected(http.MethodGet, target, r)
	}
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(r.Body, &tl); err != nil {
		return ajar.Dataset{}, nil, err
	}
	d := ajar.Dataset{Name: name, Records: int64(len(tl.Tags))}
	// More tags than one page: the count is a floor.
	d.Estimated = nextPage(r.Header.Get("Link"), "/v2/"+name+"/tags/list") != "" || len(tl.Tags) > tagPage
	var docs []map[string]string
	for _, tag := range tl.Tags {
		if len(docs) >= samples {
			break
		}
		docs = append(docs, map[string]string{"repository": name, "tag": httpc.Excerpt([]byte(tag), 128)})
	}
	return d, docs, nil
}

// refused reports an answer that asks for credentials.
func refused(r *httpc.Response) bool {
	return r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden
}

// authDetail says what the registry asked for.
func authDetail(r *httpc.Response) string {
	d := "HTTP " + strconv.Itoa(r.Status)
	if a := r.Header.Get("Www-Authenticate"); a != "" {
		d += ": " + a
	}
	return httpc.Excerpt([]byte(d), detailMax)
}

// nextPage reads the next page of a Link header (RFC 8288:
// `</v2/_catalog?last=b&n=100>; rel="next"`) and returns it when it is a
// path of the same endpoint; anything else (another host, another path)
// is not followed.
func nextPage(link, path string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		u, err := url.Parse(target[1 : len(target)-1])
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path != path || u.RawQuery == "" {
			return ""
		}
		return u.Path + "?" + u.RawQuery
	}
	return ""
}
