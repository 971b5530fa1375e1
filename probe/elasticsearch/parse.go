package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/probe/httpc"
)

// ErrMalformed is returned when an answer is not the JSON the API documents.
var ErrMalformed = errors.New("malformed answer")

// Root is what GET / says about a cluster.
// https://www.elastic.co/guide/en/elasticsearch/reference/current/rest-api-root.html
type Root struct {
	Name        string `json:"name"`
	ClusterName string `json:"cluster_name"`
	Version     struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
	Tagline string `json:"tagline"`
}

// Product names the distribution: OpenSearch says so in
// version.distribution, Elasticsearch says nothing.
func (r *Root) Product() string {
	if strings.EqualFold(r.Version.Distribution, "opensearch") {
		return "OpenSearch"
	}
	return "Elasticsearch"
}

// ParseRoot parses the answer of GET /. It fails unless the answer has a
// version number and a cluster name, which every release since 1.0 gives.
func ParseRoot(b []byte) (*Root, error) {
	var r Root
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, fmt.Errorf("GET /: %w: %v", ErrMalformed, err)
	}
	if r.Version.Number == "" || r.ClusterName == "" {
		return nil, fmt.Errorf("GET /: no version.number or cluster_name: %w", ErrMalformed)
	}
	r.Version.Number = httpc.Trim(r.Version.Number, 64)
	r.ClusterName = httpc.Trim(r.ClusterName, 128)
	r.Version.Distribution = httpc.Trim(r.Version.Distribution, 64)
	return &r, nil
}

// Index is one row of _cat/indices.
type Index struct {
	Name string
	// Docs is docs.count of the primaries; -1 when unknown (a closed index).
	Docs int64
	// Bytes is pri.store.size; -1 when unknown.
	Bytes  int64
	Status string
}

// System reports whether the index is the product's own: its name starts
// with a dot (.kibana, .security-7, .tasks).
func (ix *Index) System() bool { return strings.HasPrefix(ix.Name, ".") }

// catNumber is a _cat column: a string in JSON (bytes=b makes sizes plain
// numbers), a number from some proxies, or null for a closed index.
type catNumber struct {
	v  int64
	ok bool
}

func (n *catNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if s == "" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// A size with a unit means the server ignored bytes=b.
		if v, ok := parseSize(s); ok {
			n.v, n.ok = v, true
			return nil
		}
		return fmt.Errorf("%q is not a count", httpc.Excerpt([]byte(s), 32))
	}
	if v < 0 {
		return fmt.Errorf("negative count %d", v)
	}
	n.v, n.ok = v, true
	return nil
}

// parseSize reads a human size of _cat without bytes=b: 1.2gb, 384mb, 249b.
func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   float64
	}{{"pb", 1 << 50}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"b", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 || f > 1<<62/u.mult {
				return 0, false
			}
			return int64(f * u.mult), true
		}
	}
	return 0, false
}

// ParseCatIndices parses GET /_cat/indices?format=json&bytes=b.
// https://www.elastic.co/guide/en/elasticsearch/reference/current/cat-indices.html
func ParseCatIndices(b []byte) ([]Index, error) {
	var rows []struct {
		Index  *string   `json:"index"`
		Status string    `json:"status"`
		Docs   catNumber `json:"docs.count"`
		Size   catNumber `json:"pri.store.size"`
	}
	if err := httpc.DecodeLimited(b, &rows); err != nil {
		return nil, fmt.Errorf("_cat/indices: %w: %v", ErrMalformed, err)
	}
	out := make([]Index, 0, len(rows))
	for _, r := range rows {
		if r.Index == nil || *r.Index == "" {
			return nil, fmt.Errorf("_cat/indices: a row without an index name: %w", ErrMalformed)
		}
		ix := Index{Name: httpc.Excerpt([]byte(*r.Index), 255), Docs: -1, Bytes: -1, Status: httpc.Trim(r.Status, 16)}
		if r.Docs.ok {
			ix.Docs = r.Docs.v
		}
		if r.Size.ok {
			ix.Bytes = r.Size.v
		}
		out = append(out, ix)
	}
	return out, nil
}

// Bounds on the field names read from a mapping.
const (
	maxFields       = 64
	maxMappingDepth = 16
)

// ParseMapping parses GET /_mapping (or /{index}/_mapping) into the field
// names of each index, flattened (region.code) and capped. Multi-fields
// (name.keyword) are not document fields and are left out. It understands
// the typeless mappings of 7.0 and later and the typed ones of 5.x and 6.x.
// https://www.elastic.co/guide/en/elasticsearch/reference/current/indices-get-mapping.html
func ParseMapping(b []byte) (map[string][]string, error) {
	var indices map[string]struct {
		Mappings map[string]json.RawMessage `json:"mappings"`
	}
	if err := httpc.DecodeLimited(b, &indices); err != nil {
		return nil, fmt.Errorf("_mapping: %w: %v", ErrMalformed, err)
	}
	out := make(map[string][]string, len(indices))
	for name, ix := range indices {
		var fields []string
		if props, ok := ix.Mappings["properties"]; ok {
			fields = flattenProperties(props, "", 1, fields)
		} else {
			// One object per mapping type, each with its properties.
			types := make([]string, 0, len(ix.Mappings))
			for t := range ix.Mappings {
				types = append(types, t)
			}
			slices.Sort(types)
			for _, t := range types {
				var m struct {
					Properties json.RawMessage `json:"properties"`
				}
				if json.Unmarshal(ix.Mappings[t], &m) == nil && m.Properties != nil {
					fields = flattenProperties(m.Properties, "", 1, fields)
				}
			}
		}
		slices.Sort(fields)
		out[name] = slices.Compact(fields)
	}
	return out, nil
}

// flattenProperties appends the leaf field names of a properties object.
func flattenProperties(raw json.RawMessage, prefix string, depth int, fields []string) []string {
	if depth > maxMappingDepth || len(fields) >= maxFields {
		return fields
	}
	var props map[string]struct {
		Type       string          `json:"type"`
		Properties json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &props) != nil {
		return fields
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if len(fields) >= maxFields {
			break
		}
		p := props[n]
		full := n
		if prefix != "" {
			full = prefix + "." + n
		}
		if len(p.Properties) > 0 && string(p.Properties) != "null" {
			fields = flattenProperties(p.Properties, full, depth+1, fields)
			continue
		}
		fields = append(fields, httpc.Excerpt([]byte(full), 255))
	}
	return fields
}

// ParseHits parses a _search answer into the _source of each hit, at most
// n of them.
// https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html
func ParseHits(b []byte, n int) ([]map[string]string, error) {
	var r struct {
		Hits *struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, fmt.Errorf("_search: %w: %v", ErrMalformed, err)
	}
	if r.Hits == nil {
		return nil, fmt.Errorf("_search: no hits: %w", ErrMalformed)
	}
	var docs []map[string]string
	for _, h := range r.Hits.Hits {
		if len(docs) >= n {
			break
		}
		if len(h.Source) == 0 || string(h.Source) == "null" {
			continue // _source disabled for the index
		}
		d, err := httpc.FlattenDoc(h.Source)
		if err != nil {
			return docs, fmt.Errorf("_search: %w: %v", ErrMalformed, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// Refusal is what a cluster with security on says to an anonymous client.
type Refusal struct {
	Product string // Elasticsearch or OpenSearch, when the answer tells
	Reason  string
}

// ParseRefusal reads a 401 or 403 answer. ok is false when nothing in it
// points to Elasticsearch or OpenSearch security: then it is some other
// HTTP server's refusal.
func ParseRefusal(header map[string][]string, body []byte) (r Refusal, ok bool) {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && obj.Type == "security_exception" {
			return Refusal{Product: "Elasticsearch", Reason: httpc.Trim(obj.Reason, 256)}, true
		}
	}
	for _, c := range header["Www-Authenticate"] {
		switch {
		case strings.Contains(c, `realm="security"`):
			return Refusal{Product: "Elasticsearch", Reason: "authentication required"}, true
		case strings.Contains(c, "OpenSearch Security"), strings.Contains(c, "Open Distro Security"):
			return Refusal{Product: "OpenSearch", Reason: "authentication required"}, true
		}
	}
	return Refusal{}, false
}
