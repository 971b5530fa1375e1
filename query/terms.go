package query

import (
	"slices"
	"strings"

	"github.com/ajar-scan/ajar"
)

// maxTerms bounds the terms kept per kind and exposure: a server with a
// million tables is searchable by the first of them.
const maxTerms = 2000

// Terms lists the multi-valued search terms of an event by kind: data
// classes, dataset and field names (from an exposure), certificate and host
// names. Kinds absent from the map are left as they were.
func Terms(e *ajar.Event) map[string][]string {
	out := map[string][]string{}
	add := func(kind, v string) {
		v = strings.TrimSpace(v)
		if v == "" || len(out[kind]) >= maxTerms || len(v) > 256 {
			return
		}
		out[kind] = append(out[kind], strings.ToLower(v))
	}
	if x := e.Exposure; x != nil {
		out["class"], out["dataset"], out["field"] = nil, nil, nil
		for _, c := range x.Classes {
			add("class", c)
		}
		for _, d := range x.Datasets {
			add("dataset", d.Name)
			for _, f := range d.Fields {
				add("field", f)
			}
			for c := range d.Classes {
				add("class", c)
			}
		}
	}
	if e.TLS != nil || e.Host != "" {
		out["name"] = nil
		if e.Host != "" {
			add("name", e.Host)
		}
		if e.TLS != nil {
			for _, n := range e.TLS.Names {
				add("name", n)
			}
		}
	}
	for k, v := range out {
		slices.Sort(v)
		out[k] = slices.Compact(v)
	}
	return out
}
