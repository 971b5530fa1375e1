package solr

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ajar-scan/ajar/probe/httpc"
)

// ErrMalformed is returned when an answer is not the JSON the API documents.
var ErrMalformed = errors.New("malformed answer")

// System is what /solr/admin/info/system says.
type System struct {
	Version string
	// Authentication is true when an authentication plugin is configured.
	Authentication bool
}

// ParseSystem parses GET /solr/admin/info/system?wt=json.
// https://solr.apache.org/guide/solr/latest/configuration-guide/implicit-requesthandlers.html
func ParseSystem(b []byte) (System, error) {
	var r struct {
		Lucene *struct {
			Spec string `json:"solr-spec-version"`
		} `json:"lucene"`
		Security map[string]json.RawMessage `json:"security"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return System{}, fmt.Errorf("system information: %w: %v", ErrMalformed, err)
	}
	if r.Lucene == nil || r.Lucene.Spec == "" {
		return System{}, fmt.Errorf("system information: no solr-spec-version: %w", ErrMalformed)
	}
	_, auth := r.Security["authenticationPlugin"]
	return System{Version: httpc.Trim(r.Lucene.Spec, 64), Authentication: auth}, nil
}

// Core is one core of the STATUS answer.
type Core struct {
	Name  string
	Docs  int64
	Bytes int64
}

// ParseCores parses GET /solr/admin/cores?action=STATUS&wt=json into the
// cores sorted by name, with index.numDocs and index.sizeInBytes.
// https://solr.apache.org/guide/solr/latest/configuration-guide/coreadmin-api.html#coreadmin-status
func ParseCores(b []byte) ([]Core, error) {
	var r struct {
		Status *map[string]struct {
			Name  string `json:"name"`
			Index struct {
				NumDocs     int64 `json:"numDocs"`
				SizeInBytes int64 `json:"sizeInBytes"`
			} `json:"index"`
		} `json:"status"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, fmt.Errorf("core status: %w: %v", ErrMalformed, err)
	}
	if r.Status == nil {
		return nil, fmt.Errorf("core status: no status: %w", ErrMalformed)
	}
	out := make([]Core, 0, len(*r.Status))
	for key, c := range *r.Status {
		name := c.Name
		if name == "" {
			name = key
		}
		if name == "" || c.Index.NumDocs < 0 || c.Index.SizeInBytes < 0 {
			return nil, fmt.Errorf("core status: core %q: %w", httpc.Excerpt([]byte(name), 64), ErrMalformed)
		}
		out = append(out, Core{Name: httpc.Excerpt([]byte(name), 255), Docs: c.Index.NumDocs, Bytes: c.Index.SizeInBytes})
	}
	slices.SortFunc(out, func(a, b Core) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// maxFields is the most field names kept per core.
const maxFields = 64

// ParseFields parses GET /solr/{core}/schema/fields into the sorted field
// names, Solr's own (_version_, _root_) left out.
// https://solr.apache.org/guide/solr/latest/indexing-guide/schema-api.html#list-fields
func ParseFields(b []byte) ([]string, error) {
	var r struct {
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, fmt.Errorf("schema fields: %w: %v", ErrMalformed, err)
	}
	var out []string
	for _, f := range r.Fields {
		if f.Name == "" || internal(f.Name) || len(out) >= maxFields {
			continue
		}
		out = append(out, httpc.Excerpt([]byte(f.Name), 255))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ParseSelect parses a select answer into at most n documents, _version_
// left out.
func ParseSelect(b []byte, n int) ([]map[string]string, error) {
	var r struct {
		Response *struct {
			Docs []json.RawMessage `json:"docs"`
		} `json:"response"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, fmt.Errorf("select: %w: %v", ErrMalformed, err)
	}
	if r.Response == nil {
		return nil, fmt.Errorf("select: no response: %w", ErrMalformed)
	}
	var docs []map[string]string
	for _, raw := range r.Response.Docs {
		if len(docs) >= n {
			break
		}
		d, err := httpc.FlattenDoc(raw)
		if err != nil {
			return docs, fmt.Errorf("select: %w: %v", ErrMalformed, err)
		}
		for k := range d {
			if internal(k) {
				delete(d, k)
			}
		}
		docs = append(docs, d)
	}
	return docs, nil
}
