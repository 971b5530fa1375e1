package elasticsearch

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseRoot(t *testing.T) {
	tests := []struct {
		name, body       string
		product, version string
		cluster          string
		ok               bool
	}{
		{"elasticsearch 5", `{"name":"n","cluster_name":"elasticsearch","cluster_uuid":"u","version":{"number":"5.6.16","build_hash":"3a740d1","lucene_version":"6.6.1"},"tagline":"You Know, for Search"}`, "Elasticsearch", "5.6.16", "elasticsearch", true},
		{"elasticsearch 8", "{\n  \"name\" : \"es01\",\n  \"cluster_name\" : \"docker-cluster\",\n  \"version\" : {\n    \"number\" : \"8.11.1\",\n    \"build_flavor\" : \"default\"\n  },\n  \"tagline\" : \"You Know, for Search\"\n}\n", "Elasticsearch", "8.11.1", "docker-cluster", true},
		{"opensearch", `{"name":"n","cluster_name":"opensearch-cluster","version":{"distribution":"opensearch","number":"2.11.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`, "OpenSearch", "2.11.0", "opensearch-cluster", true},
		{"no cluster name", `{"version":{"number":"1.0"}}`, "", "", "", false},
		{"no version", `{"cluster_name":"c"}`, "", "", "", false},
		{"array", `[1,2]`, "", "", "", false},
		{"trailing garbage", `{"cluster_name":"c","version":{"number":"1"}} x`, "", "", "", false},
		{"html", `<html></html>`, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRoot([]byte(tt.body))
			if !tt.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Product() != tt.product || r.Version.Number != tt.version || r.ClusterName != tt.cluster {
				t.Errorf("got %s %s %s", r.Product(), r.Version.Number, r.ClusterName)
			}
		})
	}
}

func TestParseCatIndices(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Index
		ok   bool
	}{
		{"bytes=b", `[{"health":"yellow","status":"open","index":"person_info","docs.count":"3000000","pri.store.size":"1288490188"},{"index":".kibana_1","docs.count":"42","pri.store.size":"2322432"}]`,
			[]Index{{"person_info", 3000000, 1288490188, "open"}, {".kibana_1", 42, 2322432, ""}}, true},
		{"closed index", `[{"status":"close","index":"old","docs.count":null,"pri.store.size":null}]`, []Index{{"old", -1, -1, "close"}}, true},
		{"numbers", `[{"index":"a","docs.count":7,"pri.store.size":900}]`, []Index{{"a", 7, 900, ""}}, true},
		{"human sizes", `[{"index":"a","docs.count":"7","pri.store.size":"1.5kb"}]`, []Index{{"a", 7, 1536, ""}}, true},
		{"empty cluster", `[]`, []Index{}, true},
		{"no name", `[{"docs.count":"1"}]`, nil, false},
		{"negative", `[{"index":"a","docs.count":"-4"}]`, nil, false},
		{"overflow", `[{"index":"a","docs.count":"99999999999999999999"}]`, nil, false},
		{"huge unit", `[{"index":"a","pri.store.size":"9999999999999pb"}]`, nil, false},
		{"object", `{"error":"x"}`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCatIndices([]byte(tt.body))
			if !tt.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string][]string
	}{
		{"typeless", `{"p":{"mappings":{"properties":{"xm":{"type":"keyword"},"address":{"type":"text","fields":{"keyword":{"type":"keyword"}}},"region":{"properties":{"code":{"type":"keyword"}}}}}}}`,
			map[string][]string{"p": {"address", "region.code", "xm"}}},
		{"typed 6.x", `{"p":{"mappings":{"_doc":{"properties":{"sfzh":{"type":"keyword"}}}}}}`, map[string][]string{"p": {"sfzh"}}},
		{"several types 5.x", `{"p":{"mappings":{"b":{"properties":{"y":{"type":"long"}}},"a":{"properties":{"x":{"type":"long"},"y":{"type":"long"}}}}}}`, map[string][]string{"p": {"x", "y"}}},
		{"empty", `{"p":{"mappings":{}}}`, map[string][]string{"p": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMapping([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
		})
	}
	// A mapping with thousands of fields is capped.
	var b strings.Builder
	b.WriteString(`{"p":{"mappings":{"properties":{`)
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `":{"type":"long"}`)
	}
	b.WriteString(`}}}}`)
	got, err := ParseMapping([]byte(b.String()))
	if err != nil || len(got["p"]) != maxFields {
		t.Errorf("%d fields, %v; want %d", len(got["p"]), err, maxFields)
	}
}

func TestParseHits(t *testing.T) {
	body := `{"took":1,"hits":{"total":{"value":10000,"relation":"gte"},"hits":[` +
		`{"_index":"p","_id":"1","_source":{"xm":"张伟","region":{"code":"310104"},"tags":["a","b"],"n":12,"nil":null}},` +
		`{"_index":"p","_id":"2"},` +
		`{"_index":"p","_id":"3","_source":{"xm":"李娜"}}]}}`
	docs, err := ParseHits([]byte(body), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0]["xm"] != "张伟" || docs[0]["region.code"] != "310104" || docs[0]["tags"] != "a; b" ||
		docs[0]["n"] != "12" || len(docs[0]) != 4 || docs[1]["xm"] != "李娜" {
		t.Errorf("docs %v", docs)
	}
	if docs, _ := ParseHits([]byte(body), 1); len(docs) != 1 {
		t.Errorf("%d docs with n=1", len(docs))
	}
	for _, bad := range []string{`{}`, `[]`, `{"hits":{"hits":[{"_source":[1]}]}}`} {
		if _, err := ParseHits([]byte(bad), 5); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", bad, err)
		}
	}
}

func TestParseRefusal(t *testing.T) {
	es := `{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/]"}],"type":"security_exception","reason":"missing authentication credentials for REST request [/]"},"status":401}`
	tests := []struct {
		name    string
		header  http.Header
		body    string
		product string
		ok      bool
	}{
		{"elasticsearch body", nil, es, "Elasticsearch", true},
		{"elasticsearch header", http.Header{"Www-Authenticate": {`Basic realm="security" charset="UTF-8"`}}, "", "Elasticsearch", true},
		{"opensearch", http.Header{"Www-Authenticate": {`Basic realm="OpenSearch Security"`}}, "Unauthorized", "OpenSearch", true},
		{"open distro", http.Header{"Www-Authenticate": {`Basic realm="Open Distro Security"`}}, "Unauthorized", "OpenSearch", true},
		{"nginx", http.Header{"Www-Authenticate": {`Basic realm="Restricted"`}}, "<html>401</html>", "", false},
		{"other json error", nil, `{"error":{"type":"illegal_argument_exception"}}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := ParseRefusal(tt.header, []byte(tt.body))
			if ok != tt.ok || r.Product != tt.product {
				t.Errorf("got %+v %v", r, ok)
			}
		})
	}
}

func TestNoteLike(t *testing.T) {
	for name, want := range map[string]bool{
		"read_me": true, "README": true, "recover_your_data": true, "how_to_recover_data": true,
		"warning": true, "xyz-meow": true, "person_info": false, "orders_2023": false,
	} {
		if noteLike(name) != want {
			t.Errorf("noteLike(%q) = %v", name, !want)
		}
	}
}

// The fuzz targets feed the parsers arbitrary bytes: none may panic, and
// what they return stays within the documented bounds. Seeds under
// testdata/fuzz are the emulators' answers and hand-made oddities.

func FuzzParseRoot(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseRoot(b); err == nil && (r.Version.Number == "" || len(r.Version.Number) > 64) {
			t.Fatalf("root %+v", r)
		}
	})
}

func FuzzParseCatIndices(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ixs, err := ParseCatIndices(b)
		if err != nil {
			return
		}
		for _, ix := range ixs {
			if ix.Name == "" || ix.Docs < -1 || ix.Bytes < -1 {
				t.Fatalf("index %+v", ix)
			}
		}
	})
}

func FuzzParseMapping(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMapping(b)
		if err != nil {
			return
		}
		for _, fs := range m {
			if len(fs) > maxFields {
				t.Fatalf("%d fields", len(fs))
			}
		}
	})
}

func FuzzParseHits(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, _ := ParseHits(b, 5)
		if len(docs) > 5 {
			t.Fatalf("%d docs", len(docs))
		}
		for _, d := range docs {
			if len(d) > 64 {
				t.Fatalf("%d fields", len(d))
			}
		}
	})
}

func FuzzParseRefusal(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ParseRefusal(http.Header{"Www-Authenticate": {string(b)}}, b)
		if ok && (r.Product == "" || len(r.Reason) > 256) {
			t.Fatalf("refusal %+v", r)
		}
	})
}
