package couchdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ajar-scan/ajar/probe/httpc"
)

// ErrMalformed is returned when an answer is not the JSON the API documents.
var ErrMalformed = errors.New("malformed answer")

// ParseError reads CouchDB's error object ({"error":"unauthorized",
// "reason":"…"}) into a detail; ok is false when the body is not one.
func ParseError(b []byte) (detail string, ok bool) {
	var e struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if httpc.DecodeLimited(b, &e) != nil || e.Error == "" {
		return "", false
	}
	d := httpc.Trim(e.Error, 64)
	if e.Reason != "" {
		d += ": " + httpc.Trim(e.Reason, 192)
	}
	return d, true
}

// ParseSessionRoles reads the roles of the anonymous session from GET
// /_session; "_admin" among them means admin party.
// https://docs.couchdb.org/en/stable/api/server/authn.html#get--_session
func ParseSessionRoles(b []byte) ([]string, error) {
	var s struct {
		UserCtx *struct {
			Roles []string `json:"roles"`
		} `json:"userCtx"`
	}
	if err := httpc.DecodeLimited(b, &s); err != nil {
		return nil, fmt.Errorf("_session: %w: %v", ErrMalformed, err)
	}
	if s.UserCtx == nil {
		return nil, fmt.Errorf("_session: no userCtx: %w", ErrMalformed)
	}
	if len(s.UserCtx.Roles) > 64 {
		s.UserCtx.Roles = s.UserCtx.Roles[:64]
	}
	return s.UserCtx.Roles, nil
}

// ParseAllDbs parses GET /_all_dbs: database names, sorted, without empties
// or duplicates.
func ParseAllDbs(b []byte) ([]string, error) {
	var names []string
	if err := httpc.DecodeLimited(b, &names); err != nil {
		return nil, fmt.Errorf("_all_dbs: %w: %v", ErrMalformed, err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" || len(n) > 255 })
	slices.Sort(names)
	return slices.Compact(names), nil
}

// DBInfo is what GET /{db} says about a database.
type DBInfo struct {
	Docs  int64
	Bytes int64
}

// ParseDBInfo parses GET /{db}: doc_count, and sizes.active (CouchDB 2.x
// and later), data_size (1.x) or disk_size, whichever comes first; 0 bytes
// when none is given (express-pouchdb).
// https://docs.couchdb.org/en/stable/api/database/common.html#get--db
func ParseDBInfo(b []byte) (DBInfo, error) {
	var d struct {
		DocCount *int64 `json:"doc_count"`
		Sizes    struct {
			Active *int64 `json:"active"`
		} `json:"sizes"`
		DataSize *int64 `json:"data_size"`
		DiskSize *int64 `json:"disk_size"`
	}
	if err := httpc.DecodeLimited(b, &d); err != nil {
		return DBInfo{}, fmt.Errorf("database info: %w: %v", ErrMalformed, err)
	}
	if d.DocCount == nil || *d.DocCount < 0 {
		return DBInfo{}, fmt.Errorf("database info: no doc_count: %w", ErrMalformed)
	}
	info := DBInfo{Docs: *d.DocCount}
	for _, s := range []*int64{d.Sizes.Active, d.DataSize, d.DiskSize} {
		if s != nil && *s >= 0 {
			info.Bytes = *s
			break
		}
	}
	return info, nil
}

// ParseAllDocs parses GET /{db}/_all_docs?include_docs=true into at most n
// documents, design documents and _rev left out, and the sorted union of
// their field names.
// https://docs.couchdb.org/en/stable/api/database/bulk-api.html#get--db-_all_docs
func ParseAllDocs(b []byte, n int) ([]map[string]string, []string, error) {
	var r struct {
		Rows *[]struct {
			ID  string          `json:"id"`
			Doc json.RawMessage `json:"doc"`
		} `json:"rows"`
	}
	if err := httpc.DecodeLimited(b, &r); err != nil {
		return nil, nil, fmt.Errorf("_all_docs: %w: %v", ErrMalformed, err)
	}
	if r.Rows == nil {
		return nil, nil, fmt.Errorf("_all_docs: no rows: %w", ErrMalformed)
	}
	var docs []map[string]string
	seen := map[string]bool{}
	for _, row := range *r.Rows {
		if len(docs) >= n {
			break
		}
		if strings.HasPrefix(row.ID, "_design/") || len(row.Doc) == 0 || string(row.Doc) == "null" {
			continue
		}
		d, err := httpc.FlattenDoc(row.Doc)
		if err != nil {
			return docs, sorted(seen), fmt.Errorf("_all_docs: %w: %v", ErrMalformed, err)
		}
		delete(d, "_rev")
		for k := range d {
			if strings.HasPrefix(k, "_attachments") || strings.HasPrefix(k, "_conflicts") {
				delete(d, k)
				continue
			}
			if k != "_id" && len(seen) < httpc.MaxDocFields {
				seen[k] = true
			}
		}
		docs = append(docs, d)
	}
	return docs, sorted(seen), nil
}

func sorted(set map[string]bool) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
