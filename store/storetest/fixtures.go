package storetest

import (
	"net/netip"
	"time"

	"github.com/ajar-scan/ajar"
)

// t0 is the time of the first observation in the tests. It has nanoseconds,
// which a store must keep.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

// fullEvent is an exposed Elasticsearch behind TLS with every field of the
// contract set.
func fullEvent(addr string, at time.Time) ajar.Event {
	return ajar.Event{
		Schema: ajar.Schema,
		Time:   at,
		Scan:   "scan-full",
		Target: ajar.Target{Addr: netip.MustParseAddr(addr), Port: 9200, Host: "search.example.test"},
		Service: ajar.Service{
			Transport: "tls",
			Protocol:  "elasticsearch",
			Product:   "Elasticsearch",
			Version:   "7.17.9",
			Banner:    "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\n",
			TLS: &ajar.TLS{
				Version:    "TLS1.3",
				Cipher:     "TLS_AES_128_GCM_SHA256",
				Subject:    "CN=search.example.test",
				Names:      []string{"search.example.test", "*.example.test"},
				Issuer:     "CN=search.example.test",
				SelfSigned: true,
				NotBefore:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:   time.Date(2027, 1, 1, 0, 0, 0, 999, time.UTC),
				SHA256:     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			},
		},
		Plugin: "elasticsearch",
		Status: ajar.StatusExposed,
		Detail: "cluster \"lab\" answers without credentials",
		Exposure: &ajar.Exposure{
			Plugin:  "elasticsearch",
			Access:  ajar.AccessRead,
			Records: 3000000,
			Bytes:   1288490188,
			Datasets: []ajar.Dataset{
				{Name: "person_info", Records: 3000000, Bytes: 1288490188, Fields: []string{"name", "phone", "id_no"}},
				{Name: "logs-2026.11", Records: 120, Bytes: 4096, Estimated: true},
				{Name: ".kibana", Records: 7, Bytes: 512, System: true},
			},
			Classes: []string{"person_name", "phone", "cn_resident_id"},
			Samples: []ajar.Sample{
				{Dataset: "person_info", Doc: map[string]string{"name": "张*", "phone": "138****5678", "id_no": "3101**********1234"}},
			},
			Severity:     ajar.SeverityCritical,
			SeverityRule: "personal data classes in >= 100000 records",
			Evidence: &ajar.Evidence{
				Request:  "GET /_cat/indices?format=json&bytes=b",
				Response: `[{"index":"person_info","docs.count":"3000000"}]`,
			},
		},
	}
}

// event is a minimal observation of one key.
func event(addr string, port uint16, plugin string, st ajar.Status, at time.Time) ajar.Event {
	ev := ajar.Event{
		Schema:  ajar.Schema,
		Time:    at,
		Target:  ajar.Target{Addr: netip.MustParseAddr(addr), Port: port},
		Service: ajar.Service{Transport: "tcp", Protocol: plugin},
		Plugin:  plugin,
		Status:  st,
	}
	if st == ajar.StatusExposed {
		ev.Exposure = &ajar.Exposure{
			Plugin:   plugin,
			Access:   ajar.AccessRead,
			Records:  10,
			Bytes:    100,
			Datasets: []ajar.Dataset{{Name: "db0", Records: 10, Bytes: 100}},
			Severity: ajar.SeverityLow,
		}
	}
	return ev
}

// timePtr and int64Ptr build the optional fields of an expected event.
func timePtr(t time.Time) *time.Time { return &t }
func int64Ptr(n int64) *int64        { return &n }
