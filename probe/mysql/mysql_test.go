package mysql

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// probeAddr runs the prober against addr with opt under a deadline.
func probeAddr(t *testing.T, addr string, opt probe.Options, timeout time.Duration) (*probe.Result, time.Duration, error) {
	t.Helper()
	tg, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := (&Prober{}).Probe(ctx, &probe.Target{
		Target:  tg,
		Dialer:  &probe.TargetDialer{Target: tg, Timeout: timeout},
		Options: opt,
	})
	return res, time.Since(start), err
}

// dataset returns the dataset called name, failing the test when absent.
func dataset(t *testing.T, e *ajar.Exposure, name string) ajar.Dataset {
	t.Helper()
	for _, d := range e.Datasets {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no dataset %q among %d", name, len(e.Datasets))
	return ajar.Dataset{}
}

func TestRegistered(t *testing.T) {
	p, ok := probe.Get("mysql")
	if !ok {
		t.Fatal(`no prober registered as "mysql"`)
	}
	if _, ok := p.(*Prober); !ok {
		t.Fatalf(`"mysql" is a %T`, p)
	}
	if !slices.Contains(p.DefaultPorts(), 3306) || !slices.Contains(p.Protocols(), "mysql") {
		t.Errorf("ports %v, protocols %v", p.DefaultPorts(), p.Protocols())
	}
	if got := probe.ForProtocol("mysql"); !slices.Contains(got, probe.Prober(p)) {
		t.Errorf("ForProtocol(mysql) = %v", got)
	}
}

func TestLabOpen(t *testing.T) {
	lab.Require(t, lab.MySQLOpen)
	res, _, err := probeAddr(t, lab.MySQLOpen, probe.DefaultOptions(), 20*time.Second)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q (%s), want exposed with an exposure", res.Status, res.Detail)
	}
	if res.Product != "MariaDB" || res.Version == "" {
		t.Errorf("product %q version %q, want MariaDB and a version", res.Product, res.Version)
	}
	e := res.Exposure
	if e.Plugin != "mysql" || e.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q, want mysql admin", e.Plugin, e.Access)
	}
	for _, c := range []struct {
		name    string
		records int64
	}{
		{"police.person_info", lab.SQLPersons},
		{"police.case_record", lab.SQLCases},
		{"shop.orders", lab.SQLOrders},
	} {
		d := dataset(t, e, c.name)
		if d.Records != c.records || d.Estimated {
			t.Errorf("%s: %d records (estimated %v), want exactly %d", c.name, d.Records, d.Estimated, c.records)
		}
		if d.Bytes <= 0 || d.System {
			t.Errorf("%s: bytes %d, system %v", c.name, d.Bytes, d.System)
		}
	}
	person := dataset(t, e, "police.person_info")
	want := []string{"id", "name", "phone", "id_number", "address", "birth_date"}
	if !slices.Equal(person.Fields, want) {
		t.Errorf("person_info fields %q, want %q in ordinal order", person.Fields, want)
	}
	var records, bytes int64
	for _, d := range e.Datasets {
		schema, _, _ := strings.Cut(d.Name, ".")
		if isSystemSchema(schema) {
			t.Errorf("system table %s listed", d.Name)
		}
		records += d.Records
		bytes += d.Bytes
	}
	if e.Records != records || e.Bytes != bytes || records < lab.SQLPersons+lab.SQLCases+lab.SQLOrders {
		t.Errorf("totals %d records %d bytes, datasets sum to %d and %d", e.Records, e.Bytes, records, bytes)
	}
	// At most Samples raw rows per table, every column as a string; enrich
	// redacts them before they are stored.
	per := map[string]int{}
	for _, s := range e.Samples {
		per[s.Dataset]++
		if s.Dataset == "police.person_info" && (len(s.Doc["id_number"]) != 18 || len(s.Doc["phone"]) != 11 || s.Doc["birth_date"] == "") {
			t.Errorf("person_info sample %v", s.Doc)
		}
	}
	n := probe.DefaultOptions().Samples
	if per["police.person_info"] != n || per["police.case_record"] != n || per["shop.orders"] != n {
		t.Errorf("samples per table %v, want %d each", per, n)
	}
	if e.Evidence == nil || !strings.Contains(e.Evidence.Request, "root with empty password") ||
		!strings.Contains(e.Evidence.Response, "police.person_info") || len(e.Evidence.Response) > maxEvidence {
		t.Errorf("evidence %+v", e.Evidence)
	}
}

func TestLabOpenCountCap(t *testing.T) {
	lab.Require(t, lab.MySQLOpen)
	opt := probe.DefaultOptions()
	opt.CountCap = 1000
	res, _, err := probeAddr(t, lab.MySQLOpen, opt, 20*time.Second)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusExposed {
		t.Fatalf("status %q, want exposed", res.Status)
	}
	person := dataset(t, res.Exposure, "police.person_info")
	if !person.Estimated || person.Records <= 0 {
		t.Errorf("person_info: %d records, estimated %v; want a positive estimate", person.Records, person.Estimated)
	}
	// 800 orders are below the cap: still counted exactly.
	if orders := dataset(t, res.Exposure, "shop.orders"); orders.Estimated || orders.Records != lab.SQLOrders {
		t.Errorf("shop.orders: %d records, estimated %v; want exactly %d", orders.Records, orders.Estimated, lab.SQLOrders)
	}
}

func TestLabOpenMaxDatasets(t *testing.T) {
	lab.Require(t, lab.MySQLOpen)
	opt := probe.DefaultOptions()
	opt.MaxDatasets = 1
	res, _, err := probeAddr(t, lab.MySQLOpen, opt, 20*time.Second)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Exposure == nil || len(res.Exposure.Datasets) != 1 {
		t.Fatalf("got %+v, want exactly one dataset", res.Exposure)
	}
	if d := res.Exposure.Datasets[0]; len(d.Fields) == 0 {
		t.Errorf("%s: no fields with a truncated table list", d.Name)
	}
}

func TestLabSecured(t *testing.T) {
	lab.Require(t, lab.MySQLSecured)
	res, _, err := probeAddr(t, lab.MySQLSecured, probe.DefaultOptions(), 20*time.Second)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("status %q exposure %v, want protected", res.Status, res.Exposure)
	}
	if !strings.Contains(res.Detail, "Access denied for user 'root'") || !strings.Contains(res.Detail, "anonymous user:") {
		t.Errorf("detail %q, want both refusals", res.Detail)
	}
	if res.Product != "MariaDB" {
		t.Errorf("product %q, want MariaDB from the greeting", res.Product)
	}
}
