// Package etcd is the probe for etcd's v3 API, spoken through its JSON
// gateway: it counts the keys, groups them by prefix and samples a few values.
package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"slices"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the etcd plugin. It sends GET /version and, through the v3
// gateway, Range requests (count_only, keys_only, or with a limit) and
// Maintenance.Status; nothing that writes.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "etcd".
func (*Prober) Name() string { return "etcd" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"etcd"} }

// DefaultPorts returns etcd's client port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{2379} }

// Bounds on how much of a server the probe reads.
const (
	defaultTimeout = 30 * time.Second
	// maxSteps bounds the walk over the key space (two requests a step).
	maxSteps = 128
	// maxSampled is the most prefixes whose values are sampled.
	maxSampled = 16
	// maxBody bounds each answer; a sample of values larger than this is
	// skipped.
	maxBody = 4 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// otherKeys names the dataset of the keys that belong to no named prefix,
// and of those beyond the walk's bounds.
const otherKeys = "*"

// Probe reads what the server gives away without credentials. A server with
// authentication on is protected; one that does not answer like etcd is
// open, with an error. Once the key count has proved the exposure, a later
// failure returns the exposure found so far together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	hc := httpc.New(t)
	defer hc.Close()
	hc.MaxBody = maxBody
	c := &client{hc: hc}
	open := &probe.Result{Status: ajar.StatusOpen}

	// GET /version: {"etcdserver":"3.4.23","etcdcluster":"3.4.0"}.
	if r, err := hc.Get(ctx, "/version", nil); err != nil {
		return open, fmt.Errorf("read /version: %w", err)
	} else if r.Status == http.StatusOK {
		var v struct {
			Server string `json:"etcdserver"`
		}
		if json.Unmarshal(r.Body, &v) == nil && v.Server != "" {
			open.Product, open.Version = "etcd", clip(v.Server, 32)
		}
	}

	all := rangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true}
	r, resp, err := c.findAPI(ctx, all)
	var refusal *refusedError
	switch {
	case errors.As(err, &refusal):
		return &probe.Result{Status: ajar.StatusProtected, Product: "etcd", Version: open.Version, Detail: refusal.msg}, nil
	case err != nil:
		return open, fmt.Errorf("count the keys: %w", err)
	}
	res := &probe.Result{Status: ajar.StatusExposed, Product: "etcd", Version: open.Version}
	exp := &ajar.Exposure{
		Plugin: "etcd",
		// Without authentication every client is root: it may write, delete
		// and turn authentication on or off.
		Access:   ajar.AccessAdmin,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{
			Request:  "POST " + c.api + "/kv/range " + `{"key":"AA==","range_end":"AA==","count_only":true}`,
			Response: httpc.Excerpt(resp.Body, evidenceMax),
		},
	}
	res.Exposure = exp
	total := r.Count
	if total == 0 {
		return res, nil
	}
	maxDatasets := t.Options.MaxDatasets
	if maxDatasets <= 0 {
		maxDatasets = probe.DefaultOptions().MaxDatasets
	}
	err = c.walk(ctx, exp, maxDatasets)
	// The database's size in use, shared out by key count.
	if size, serr := c.dbSize(ctx); serr == nil {
		for i := range exp.Datasets {
			exp.Datasets[i].Bytes = share(size, exp.Datasets[i].Records, total)
		}
	}
	exp.Total()
	if err != nil {
		return res, fmt.Errorf("group the keys: %w", err)
	}

	sampled := 0
	for i := range exp.Datasets {
		d := &exp.Datasets[i]
		if d.Name == otherKeys || sampled >= maxSampled || t.Options.Samples <= 0 {
			continue
		}
		sampled++
		p := []byte(d.Name)
		sr, _, err := c.rangeCall(ctx, rangeRequest{Key: p, RangeEnd: prefixEnd(p), Limit: int64(t.Options.Samples)})
		if errors.Is(err, httpc.ErrTooLarge) {
			continue // values too large to sample
		}
		if err != nil {
			return res, fmt.Errorf("sample %q: %w", d.Name, err)
		}
		for j, kv := range sr.KVs {
			if j >= t.Options.Samples {
				break
			}
			doc, fields := sampleDoc(kv.Key, kv.Value)
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: doc})
			for _, f := range fields {
				if !slices.Contains(d.Fields, f) {
					d.Fields = append(d.Fields, f)
				}
			}
		}
	}
	return res, nil
}

// walk lists the key space by prefix: it reads the first key from a cursor,
// counts the keys of its prefix and moves the cursor past them. Keys of no
// named prefix, and all keys past the walk's bounds, are counted in the
// dataset "*".
func (c *client) walk(ctx context.Context, exp *ajar.Exposure, maxDatasets int) error {
	other := ajar.Dataset{Name: otherKeys}
	defer func() {
		if other.Records > 0 {
			exp.Datasets = append(exp.Datasets, other)
		}
	}()
	cursor := []byte{0}
	for range maxSteps {
		if len(exp.Datasets) >= maxDatasets-1 {
			break
		}
		first, _, err := c.rangeCall(ctx, rangeRequest{Key: cursor, RangeEnd: []byte{0}, KeysOnly: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(first.KVs) == 0 {
			return nil
		}
		key := first.KVs[0].Key
		prefix, named := prefixOf(key)
		end := prefixEnd(prefix)
		if !named {
			// This key alone.
			end = append(slices.Clone(key), 0)
		}
		n, _, err := c.rangeCall(ctx, rangeRequest{Key: prefix, RangeEnd: end, CountOnly: true})
		if err != nil {
			return err
		}
		if named {
			exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: clip(string(prefix), maxSegment+2), Records: n.Count})
		} else {
			other.Records += n.Count
		}
		if len(end) == 1 && end[0] == 0 {
			return nil // the prefix ran to the end of the key space
		}
		cursor = end
	}
	// The rest, counted in one request.
	rest, _, err := c.rangeCall(ctx, rangeRequest{Key: cursor, RangeEnd: []byte{0}, CountOnly: true})
	if err != nil {
		return err
	}
	other.Records += rest.Count
	return nil
}

// client calls the v3 gateway.
type client struct {
	hc *httpc.Client
	// api is the gateway's path prefix: /v3 (3.4 and later), /v3beta
	// (3.3), /v3alpha (3.2).
	api string
}

// rangeRequest is a RangeRequest.
type rangeRequest struct {
	Key       []byte `json:"key"`
	RangeEnd  []byte `json:"range_end,omitempty"`
	Limit     int64  `json:"limit,omitempty,string"`
	KeysOnly  bool   `json:"keys_only,omitempty"`
	CountOnly bool   `json:"count_only,omitempty"`
}

// refusedError is a refusal for want of credentials.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return "refused: " + e.msg }

// findAPI sends the first Range to each gateway prefix in turn, newest
// first, and keeps the one that answers.
func (c *client) findAPI(ctx context.Context, req rangeRequest) (*rangeAnswer, *httpc.Response, error) {
	var err error
	for _, api := range []string{"/v3", "/v3beta", "/v3alpha"} {
		c.api = api
		var r *rangeAnswer
		var resp *httpc.Response
		r, resp, err = c.rangeCall(ctx, req)
		if resp != nil && resp.Status == http.StatusNotFound {
			continue
		}
		return r, resp, err
	}
	return nil, nil, err
}

// rangeCall sends one Range request.
func (c *client) rangeCall(ctx context.Context, req rangeRequest) (*rangeAnswer, *httpc.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	path := c.api + "/kv/range"
	resp, err := c.hc.Do(ctx, http.MethodPost, path, body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, resp, err
	}
	if resp.Status != http.StatusOK {
		if msg, _, ok := parseError(resp.Body); ok {
			if refused(msg) {
				return nil, resp, &refusedError{msg}
			}
			return nil, resp, fmt.Errorf("POST %s: HTTP %d: %s", path, resp.Status, msg)
		}
		return nil, resp, fmt.Errorf("%w: %w", httpc.Unexpected(http.MethodPost, path, resp), ErrNotEtcd)
	}
	r, err := parseRange(resp.Body)
	return r, resp, err
}

// dbSize reads the size in use of the server's database (Maintenance.Status).
func (c *client) dbSize(ctx context.Context) (int64, error) {
	resp, err := c.hc.Do(ctx, http.MethodPost, c.api+"/maintenance/status", []byte("{}"), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return 0, err
	}
	var s struct {
		DBSize      int64 `json:"dbSize,string"`
		DBSizeInUse int64 `json:"dbSizeInUse,string"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &s) != nil {
		return 0, fmt.Errorf("maintenance status: HTTP %d", resp.Status)
	}
	if s.DBSizeInUse > 0 {
		return s.DBSizeInUse, nil
	}
	return max(s.DBSize, 0), nil
}

// share apportions total bytes to part of all, without overflow.
func share(total, part, all int64) int64 {
	if total <= 0 || part <= 0 || all <= 0 || part > all {
		return 0
	}
	hi, lo := bits.Mul64(uint64(total), uint64(part))
	q, _ := bits.Div64(hi, lo, uint64(all))
	return int64(q)
}
