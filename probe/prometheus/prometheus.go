// Package prometheus is the probe for Prometheus servers (the HTTP API v1):
// it reads the build, the active scrape targets and the metric names.
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Prometheus plugin. It sends three GETs of the HTTP API
// (https://prometheus.io/docs/prometheus/latest/querying/api/): no query,
// nothing of the admin API.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "prometheus".
func (*Prober) Name() string { return "prometheus" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"prometheus"} }

// DefaultPorts returns Prometheus's port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{9090} }

// Bounds on how much of a server the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// maxBody bounds each answer: a server with tens of thousands of
	// targets or metric names answers in a few megabytes.
	maxBody = 8 << 20
	// maxLabels is the most label names kept per job and labels per sample.
	maxLabels = 64
	// maxValue is the longest label value kept in a sample.
	maxValue = 256
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// The API's paths.
const (
	buildInfoPath = "/api/v1/status/buildinfo"
	targetsPath   = "/api/v1/targets?state=active"
	namesPath     = "/api/v1/label/__name__/values"
)

// metricsDataset names the dataset of metric names.
const metricsDataset = "metrics"

// Probe reads the build information, the active targets and the metric
// names. A 401 or 403 is protected; readable targets or metric names are
// exposed: a dataset per scrape job (records: targets; fields: label
// names; samples: label values) and one of metric names.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	c.MaxBody = maxBody

	res := &probe.Result{Status: ajar.StatusOpen, Product: "Prometheus"}
	r, err := c.Get(ctx, buildInfoPath, nil)
	switch {
	case errors.Is(err, httpc.ErrRedirect):
		// Not followed; the other paths may still answer.
		r = &httpc.Response{}
	case err != nil:
		return res, err
	}
	if refused(r) {
		res.Status, res.Detail = ajar.StatusProtected, "GET "+buildInfoPath+": HTTP "+strconv.Itoa(r.Status)
		return res, nil
	}
	var build struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	// Servers before 2.14 have no buildinfo: go on without a version.
	if r.Status == http.StatusOK && json.Unmarshal(r.Body, &build) == nil {
		res.Version = httpc.Excerpt([]byte(build.Data.Version), 40)
	}

	jobs, ev, terr := targets(ctx, c, t.Options.Samples)
	if refusedErr(terr) {
		res.Status, res.Detail = ajar.StatusProtected, terr.Error()
		return res, nil
	}
	names, nerr := metricNames(ctx, c)
	if terr != nil && nerr != nil {
		return res, errors.Join(terr, nerr)
	}
	exp := &ajar.Exposure{Plugin: "prometheus", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}, Evidence: ev}
	max := t.Options.MaxDatasets
	if max <= 0 {
		max = probe.DefaultOptions().MaxDatasets
	}
	for _, j := range jobs {
		if len(exp.Datasets) >= max-1 {
			break
		}
		name := j.name
		if name == metricsDataset {
			name = "job:" + name
		}
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: name, Records: j.targets, Fields: j.labels})
		for _, s := range j.samples {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: s})
		}
	}
	if nerr == nil {
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: metricsDataset, Records: names})
		if exp.Evidence == nil {
			exp.Evidence = &ajar.Evidence{Request: httpc.RequestLine(http.MethodGet, namesPath)}
		}
	}
	exp.Total()
	res.Status, res.Exposure = ajar.StatusExposed, exp
	// One of the two failed: the other proved the exposure.
	return res, errors.Join(terr, nerr)
}

// job is what the active targets of one scrape job give away.
type job struct {
	name    string
	targets int64
	labels  []string
	samples []map[string]string
}

// targets reads the active targets and groups them by job, in the order
// the server lists them.
func targets(ctx context.Context, c *httpc.Client, samples int) ([]job, *ajar.Evidence, error) {
	r, err := c.Get(ctx, targetsPath, nil)
	if err != nil {
		return nil, nil, err
	}
	if r.Status != http.StatusOK {
		return nil, nil, httpc.Unexpected(http.MethodGet, targetsPath, r)
	}
	jobs, err := parseTargets(r.Body, samples)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", targetsPath, err)
	}
	return jobs, &ajar.Evidence{Request: httpc.RequestLine(http.MethodGet, targetsPath), Response: httpc.Excerpt(r.Body, evidenceMax)}, nil
}

// parseTargets groups the active targets of a /api/v1/targets answer by
// job (the "job" label, else the scrape pool).
func parseTargets(body []byte, samples int) ([]job, error) {
	var doc struct {
		Data struct {
			ActiveTargets []struct {
				Labels     map[string]string `json:"labels"`
				ScrapePool string            `json:"scrapePool"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	var jobs []job
	index := map[string]int{}
	for _, tg := range doc.Data.ActiveTargets {
		name := tg.Labels["job"]
		if name == "" {
			name = tg.ScrapePool
		}
		name = httpc.Excerpt([]byte(name), 128)
		i, ok := index[name]
		if !ok {
			i = len(jobs)
			index[name] = i
			jobs = append(jobs, job{name: name})
		}
		j := &jobs[i]
		j.targets++
		sample := map[string]string{}
		for k, v := range tg.Labels {
			if !slices.Contains(j.labels, k) && len(j.labels) < maxLabels {
				j.labels = append(j.labels, k)
			}
			if len(sample) < maxLabels {
				sample[httpc.Excerpt([]byte(k), 128)] = httpc.Excerpt([]byte(v), maxValue)
			}
		}
		if len(j.samples) < samples {
			j.samples = append(j.samples, sample)
		}
	}
	for i := range jobs {
		slices.Sort(jobs[i].labels)
	}
	return jobs, nil
}

// metricNames counts the metric names the server knows.
func metricNames(ctx context.Context, c *httpc.Client) (int64, error) {
	r, err := c.Get(ctx, namesPath, nil)
	if err != nil {
		return 0, err
	}
	if r.Status != http.StatusOK {
		return 0, httpc.Unexpected(http.MethodGet, namesPath, r)
	}
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return 0, fmt.Errorf("GET %s: %w", namesPath, err)
	}
	return int64(len(doc.Data)), nil
}

// refused reports an answer that asks for credentials.
func refused(r *httpc.Response) bool {
	return r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden
}

// refusedErr reports an error that is a refusal.
func refusedErr(err error) bool {
	var se *httpc.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)
}
