package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/emulator"
	"github.com/ajar-scan/ajar/lab/emulator/couchdb"
	"github.com/ajar-scan/ajar/lab/emulator/elasticsearch"
	"github.com/ajar-scan/ajar/lab/emulator/kibana"
	"github.com/ajar-scan/ajar/lab/emulator/solr"
	"github.com/ajar-scan/ajar/lab/fake"
)

// writer is what every emulator exposes for the no-write assertions.
type writer interface {
	http.Handler
	Writes() int64
	Refused() []string
}

// TestWritesRefused sends each emulator the writes an attacker or a careless
// client would, and checks that every one is refused and counted.
func TestWritesRefused(t *testing.T) {
	es, _ := elasticsearch.New("elasticsearch", "7.17.9", elasticsearch.Open, nil)
	esBehind, _ := elasticsearch.New("elasticsearch", "7.17.9", elasticsearch.Open, nil)
	kb, _ := kibana.New("7.17.9", kibana.Open, esBehind, nil)
	cdb, _ := couchdb.New("3.3.3", couchdb.AdminParty, nil)
	sl, _ := solr.New("9.4.1", solr.Open, nil)
	tests := []struct {
		name   string
		srv    writer
		writes [][2]string // method, target
		reads  [][2]string
	}{
		{"elasticsearch", es,
			[][2]string{{"PUT", "/read_me"}, {"DELETE", "/person_info"}, {"POST", "/person_info/_doc"}, {"POST", "/_bulk"}, {"PUT", "/_cluster/settings"}, {"POST", "/person_info/_delete_by_query"}, {"GET", "/_flush"}},
			[][2]string{{"GET", "/"}, {"POST", "/person_info/_search"}, {"GET", "/_cat/indices?format=json"}}},
		{"kibana", kb,
			[][2]string{{"POST", "/api/console/proxy?path=person_info&method=DELETE"}, {"POST", "/api/console/proxy?path=x&method=PUT"}, {"POST", "/api/saved_objects/index-pattern"}, {"DELETE", "/api/saved_objects/config/1"}},
			[][2]string{{"GET", "/api/status"}, {"POST", "/api/console/proxy?path=%2F&method=GET"}}},
		{"couchdb", cdb,
			[][2]string{{"PUT", "/newdb"}, {"DELETE", "/person_info"}, {"POST", "/person_info"}, {"PUT", "/person_info/x"}, {"PUT", "/_node/_local/_config/admins/a"}},
			[][2]string{{"GET", "/"}, {"GET", "/_all_dbs"}, {"POST", "/person_info/_all_docs"}}},
		{"solr", sl,
			[][2]string{{"POST", "/solr/person_info/update"}, {"GET", "/solr/admin/cores?action=CREATE&name=x"}, {"GET", "/solr/admin/collections?action=DELETE&name=x"}},
			[][2]string{{"GET", "/solr/admin/cores?action=STATUS"}, {"GET", "/solr/person_info/select?q=*:*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rq := range tt.reads {
				rr := httptest.NewRecorder()
				req := httptest.NewRequest(rq[0], rq[1], strings.NewReader(`{"size":1}`))
				req.Header.Set("kbn-xsrf", "true")
				tt.srv.ServeHTTP(rr, req)
				if rr.Code >= 400 {
					t.Errorf("%s %s: HTTP %d", rq[0], rq[1], rr.Code)
				}
			}
			if n := tt.srv.Writes(); n != 0 {
				t.Fatalf("reads counted as writes: %v", tt.srv.Refused())
			}
			for _, rq := range tt.writes {
				rr := httptest.NewRecorder()
				req := httptest.NewRequest(rq[0], rq[1], strings.NewReader(`{}`))
				req.Header.Set("kbn-xsrf", "true")
				tt.srv.ServeHTTP(rr, req)
				if rr.Code != http.StatusForbidden && rr.Code != http.StatusUnauthorized {
					t.Errorf("%s %s: HTTP %d, want a refusal", rq[0], rq[1], rr.Code)
				}
			}
			if n := tt.srv.Writes(); n != int64(len(tt.writes)) {
				t.Errorf("%d writes counted, want %d: %v", n, len(tt.writes), tt.srv.Refused())
			}
		})
	}
	if esBehind.Writes() != 0 {
		t.Errorf("a write went through Kibana: %v", esBehind.Refused())
	}
}

// TestSecuredShapes checks the refusals the probes recognise, as the
// products send them.
func TestSecuredShapes(t *testing.T) {
	es8, _ := elasticsearch.New("elasticsearch", "8.11.1", elasticsearch.Secured, nil)
	rr := httptest.NewRecorder()
	es8.ServeHTTP(rr, httptest.NewRequest("GET", "/_cat/indices?format=json", nil))
	var body struct {
		Error struct {
			RootCause []struct{ Type, Reason string } `json:"root_cause"`
			Type      string
			Header    map[string][]string
		}
		Status int
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rr.Code != 401 || body.Status != 401 || body.Error.Type != "security_exception" ||
		body.Error.RootCause[0].Reason != "missing authentication credentials for REST request [/_cat/indices?format=json]" ||
		len(rr.Header().Values("WWW-Authenticate")) != 3 || len(body.Error.Header["WWW-Authenticate"]) != 3 ||
		rr.Header().Get("X-elastic-product") != "Elasticsearch" {
		t.Errorf("8.x security answer: %d %s %v", rr.Code, rr.Body, rr.Header())
	}
	ops, _ := elasticsearch.New("opensearch", "2.11.0", elasticsearch.Secured, nil)
	rr = httptest.NewRecorder()
	ops.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if rr.Code != 401 || rr.Body.String() != "Unauthorized" || rr.Header().Get("WWW-Authenticate") != `Basic realm="OpenSearch Security"` {
		t.Errorf("OpenSearch security answer: %d %q", rr.Code, rr.Body)
	}
	kb, _ := kibana.New("8.11.1", kibana.Secured, nil, nil)
	rr = httptest.NewRecorder()
	kb.ServeHTTP(rr, httptest.NewRequest("GET", "/app/home", nil))
	if rr.Code != 302 || rr.Header().Get("Location") != "/login?next=%2Fapp%2Fhome" || rr.Header().Get("kbn-name") == "" {
		t.Errorf("Kibana login redirect: %d %v", rr.Code, rr.Header())
	}
}

// TestCorpus checks that the seeded documents are the lab's persons, with
// valid resident ID numbers, and that the ransom note has the attacks' shape.
func TestCorpus(t *testing.T) {
	want := fake.New(lab.Seed).Person(1)
	d := emulator.PersonInfo(1, 1, 1).Doc(1)
	if d[0].Value != want.Name || d[3].Value != want.IDNumber || !fake.ValidIDNumber(d[3].Value.(string)) {
		t.Errorf("person 1 = %v, want %s %s", d, want.Name, want.IDNumber)
	}
	for _, w := range []string{"All your data is backed up", "BTC", "bc1q", "@example.com"} {
		if !strings.Contains(emulator.RansomNote, w) {
			t.Errorf("ransom note lacks %q", w)
		}
	}
}
