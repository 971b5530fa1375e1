package couchdb

import (
	"errors"
	"slices"
	"testing"
)

func TestParseWelcome(t *testing.T) {
	tests := []struct {
		name, body, product, version string
		ok                           bool
	}{
		{"couchdb 3", `{"couchdb":"Welcome","version":"3.3.3","git_sha":"40afbcfc7","features":["access-ready"],"vendor":{"name":"The Apache Software Foundation"}}` + "\n", "CouchDB", "3.3.3", true},
		{"couchdb 1", `{"couchdb":"Welcome","uuid":"x","version":"1.6.1","vendor":{"version":"1.6.1","name":"The Apache Software Foundation"}}`, "CouchDB", "1.6.1", true},
		{"express-pouchdb", `{"express-pouchdb":"Welcome!","version":"4.2.0","pouchdb-adapters":["memory"],"vendor":{"name":"PouchDB authors","version":"4.2.0"}}`, "express-pouchdb", "4.2.0", true},
		{"other json", `{"status":"ok"}`, "", "", false},
		{"html", `<html></html>`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWelcome([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("error %v", err)
			}
			if tt.ok && (w.Product() != tt.product || w.Version != tt.version) {
				t.Errorf("got %s %s", w.Product(), w.Version)
			}
		})
	}
}

func TestParseDBInfo(t *testing.T) {
	tests := []struct {
		name, body string
		want       DBInfo
		ok         bool
	}{
		{"couchdb 3", `{"db_name":"p","sizes":{"file":5,"external":3,"active":4},"doc_count":250000}`, DBInfo{250000, 4}, true},
		{"couchdb 1", `{"db_name":"p","doc_count":7,"disk_size":900,"data_size":600}`, DBInfo{7, 600}, true},
		{"express-pouchdb", `{"doc_count":300,"update_seq":301,"backend_adapter":"MemDOWN","db_name":"p","adapter":"memory"}`, DBInfo{300, 0}, true},
		{"no count", `{"db_name":"p"}`, DBInfo{}, false},
		{"negative", `{"doc_count":-1}`, DBInfo{}, false},
		{"string", `{"doc_count":"1"}`, DBInfo{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDBInfo([]byte(tt.body))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
}

func TestParseAllDocs(t *testing.T) {
	body := `{"total_rows":3,"offset":0,"rows":[` +
		`{"id":"_design/x","key":"_design/x","value":{"rev":"1-a"},"doc":{"_id":"_design/x","views":{}}},` +
		`{"id":"p1","key":"p1","value":{"rev":"1-b"},"doc":{"_id":"p1","_rev":"1-b","xm":"张伟","region":{"code":"310104"},"_attachments":{"a.txt":{"length":3}}}},` +
		`{"id":"p2","key":"p2","value":{"rev":"1-c"},"doc":{"_id":"p2","_rev":"1-c","sjhm":"13812345678"}}]}`
	docs, fields, err := ParseAllDocs([]byte(body), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0]["xm"] != "张伟" || docs[0]["_id"] != "p1" || docs[0]["_rev"] != "" || docs[0]["_attachments.a.txt.length"] != "" {
		t.Errorf("docs %v", docs)
	}
	if !slices.Equal(fields, []string{"region.code", "sjhm", "xm"}) {
		t.Errorf("fields %q", fields)
	}
	if docs, _, _ := ParseAllDocs([]byte(body), 1); len(docs) != 1 {
		t.Errorf("%d docs for n=1", len(docs))
	}
	if _, _, err := ParseAllDocs([]byte(`{"error":"x"}`), 5); !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v", err)
	}
}

func TestParseAllDbsAndSession(t *testing.T) {
	names, err := ParseAllDbs([]byte(`["b","_users","a","a",""]`))
	if err != nil || !slices.Equal(names, []string{"_users", "a", "b"}) {
		t.Errorf("names %q, %v", names, err)
	}
	if _, err := ParseAllDbs([]byte(`{"error":"unauthorized"}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v", err)
	}
	roles, err := ParseSessionRoles([]byte(`{"ok":true,"userCtx":{"name":null,"roles":["_admin"]}}`))
	if err != nil || !slices.Equal(roles, []string{"_admin"}) {
		t.Errorf("roles %q, %v", roles, err)
	}
	if d, ok := ParseError([]byte(`{"error":"unauthorized","reason":"You are not a server admin."}`)); !ok || d != "unauthorized: You are not a server admin." {
		t.Errorf("detail %q %v", d, ok)
	}
}

// The fuzz targets feed the parsers arbitrary bytes; seeds are the
// emulator's and express-pouchdb's answers.

func FuzzParseWelcome(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := ParseWelcome(b); err == nil && len(w.Version) > 64 {
			t.Fatalf("version of %d bytes", len(w.Version))
		}
	})
}

func FuzzParseDBInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseDBInfo(b); err == nil && (d.Docs < 0 || d.Bytes < 0) {
			t.Fatalf("info %+v", d)
		}
	})
}

func FuzzParseAllDocs(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, fields, _ := ParseAllDocs(b, 5)
		if len(docs) > 5 || len(fields) > 64 {
			t.Fatalf("%d docs %d fields", len(docs), len(fields))
		}
	})
}

func FuzzParseAllDbs(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := ParseAllDbs(b)
		if err == nil && slices.Contains(names, "") {
			t.Fatal("empty name")
		}
		_, _ = ParseSessionRoles(b)
		_, _ = ParseError(b)
	})
}
