package postgres

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

// probeTimeout bounds one probe of a lab server.
const probeTimeout = 30 * time.Second

// target builds the probe input for addr, dialled by the engine's dialer.
func target(t *testing.T, addr string, opts probe.Options) *probe.Target {
	t.Helper()
	tg, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return &probe.Target{
		Target:  tg,
		Service: ajar.Service{Transport: "tcp", Protocol: "postgresql"},
		Dialer:  &probe.TargetDialer{Target: tg, Timeout: 5 * time.Second},
		Options: opts,
	}
}

// run probes addr with a fresh Prober.
func run(t *testing.T, addr string, opts probe.Options) (*probe.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	return (&Prober{}).Probe(ctx, target(t, addr, opts))
}

// datasetsByName indexes an exposure's datasets.
func datasetsByName(t *testing.T, e *ajar.Exposure) map[string]ajar.Dataset {
	t.Helper()
	m := make(map[string]ajar.Dataset, len(e.Datasets))
	for _, d := range e.Datasets {
		if _, dup := m[d.Name]; dup {
			t.Errorf("dataset %s listed twice", d.Name)
		}
		m[d.Name] = d
	}
	return m
}

func TestRegistered(t *testing.T) {
	p, ok := probe.Get("postgresql")
	if !ok {
		t.Fatal(`no prober registered as "postgresql"`)
	}
	if _, ok := p.(*Prober); !ok {
		t.Fatalf("registered prober is %T", p)
	}
	if !slices.Contains(probe.ForProtocol("postgresql"), p) {
		t.Error("not found for protocol postgresql")
	}
	if !slices.Contains(probe.DataPorts(), 5432) {
		t.Error("5432 missing from the data ports")
	}
}

func TestOpenServerIsExposed(t *testing.T) {
	lab.Require(t, lab.PGOpen)
	res, err := run(t, lab.PGOpen, probe.DefaultOptions())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusExposed {
		t.Fatalf("status %q (%s), want exposed", res.Status, res.Detail)
	}
	if res.Product != "PostgreSQL" || res.Version == "" {
		t.Errorf("product %q version %q", res.Product, res.Version)
	}
	if _, ok := parseVersion(res.Version); !ok {
		t.Errorf("version %q does not parse", res.Version)
	}
	e := res.Exposure
	if e == nil {
		t.Fatal("no exposure")
	}
	if e.Plugin != Name || e.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q, want postgresql admin", e.Plugin, e.Access)
	}
	// At most Samples raw rows per table, values as text; enrich redacts
	// them before they are stored.
	per := map[string]int{}
	for _, s := range e.Samples {
		per[s.Dataset]++
		if s.Dataset == "police.public.person_info" && (len(s.Doc["id_number"]) != 18 || len(s.Doc["phone"]) != 11) {
			t.Errorf("person_info sample %v", s.Doc)
		}
	}
	for _, name := range []string{"police.public.person_info", "police.public.case_record", "shop.public.orders"} {
		if per[name] != probe.DefaultOptions().Samples {
			t.Errorf("samples per table %v, want %d of %s", per, probe.DefaultOptions().Samples, name)
		}
	}

	sets := datasetsByName(t, e)
	for _, want := range []struct {
		name    string
		records int64
		fields  []string
	}{
		{"police.public.person_info", lab.SQLPersons, []string{"id", "name", "phone", "id_number", "address", "birth_date"}},
		{"police.public.case_record", lab.SQLCases, []string{"id", "person_id", "case_no", "offence", "filed_at"}},
		{"shop.public.orders", lab.SQLOrders, []string{"id", "customer", "amount", "created_at"}},
	} {
		d, ok := sets[want.name]
		if !ok {
			t.Errorf("dataset %s missing; have %v", want.name, e.Datasets)
			continue
		}
		if d.Records != want.records || d.Estimated {
			t.Errorf("%s: records %d estimated %v, want exactly %d", want.name, d.Records, d.Estimated, want.records)
		}
		if d.Bytes <= 0 {
			t.Errorf("%s: bytes %d", want.name, d.Bytes)
		}
		if !slices.Equal(d.Fields, want.fields) {
			t.Errorf("%s: fields %v, want %v", want.name, d.Fields, want.fields)
		}
	}
	for _, d := range e.Datasets {
		if strings.Contains(d.Name, ".pg_catalog.") || strings.Contains(d.Name, ".information_schema.") ||
			strings.Contains(d.Name, ".pg_toast") {
			t.Errorf("system relation listed: %s", d.Name)
		}
		if strings.HasPrefix(d.Name, "template0.") || strings.HasPrefix(d.Name, "template1.") {
			t.Errorf("template database listed: %s", d.Name)
		}
	}

	var records, bytes int64
	for _, d := range e.Datasets {
		records += d.Records
		bytes += d.Bytes
	}
	if e.Records != records || e.Bytes != bytes {
		t.Errorf("totals %d records %d bytes, datasets add up to %d and %d", e.Records, e.Bytes, records, bytes)
	}
	if min := int64(lab.SQLPersons + lab.SQLCases + lab.SQLOrders); e.Records < min {
		t.Errorf("total records %d, want at least %d", e.Records, min)
	}

	ev := e.Evidence
	if ev == nil {
		t.Fatal("no evidence")
	}
	if !strings.Contains(ev.Request, "without password") || !strings.Contains(ev.Request, "FROM pg_database") {
		t.Errorf("evidence request %q", ev.Request)
	}
	if len(ev.Response) > maxEvidence || !strings.Contains(ev.Response, "police") || !strings.Contains(ev.Response, "shop") {
		t.Errorf("evidence response (%d bytes) %q", len(ev.Response), ev.Response)
	}
}

func TestCountCapUsesTheEstimate(t *testing.T) {
	lab.Require(t, lab.PGOpen)
	opts := probe.DefaultOptions()
	opts.CountCap = 1000
	res, err := run(t, lab.PGOpen, opts)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusExposed {
		t.Fatalf("status %q, want exposed", res.Status)
	}
	sets := datasetsByName(t, res.Exposure)
	for _, c := range []struct {
		name      string
		records   int64
		estimated bool
	}{
		{"police.public.person_info", lab.SQLPersons, true},
		{"police.public.case_record", lab.SQLCases, true},
		{"shop.public.orders", lab.SQLOrders, false}, // below the cap: counted
	} {
		d, ok := sets[c.name]
		if !ok {
			t.Errorf("dataset %s missing", c.name)
			continue
		}
		if d.Estimated != c.estimated {
			t.Errorf("%s: estimated %v, want %v", c.name, d.Estimated, c.estimated)
		}
		// The lab runs ANALYZE after seeding: the estimate is close.
		if diff := d.Records - c.records; diff*10 > c.records || -diff*10 > c.records {
			t.Errorf("%s: records %d, want %d within 10 %%", c.name, d.Records, c.records)
		}
		if !c.estimated && d.Records != c.records {
			t.Errorf("%s: records %d, want exactly %d", c.name, d.Records, c.records)
		}
	}
}

func TestMaxDatasetsBoundsTheListing(t *testing.T) {
	lab.Require(t, lab.PGOpen)
	for _, limit := range []int{1, 2} {
		opts := probe.DefaultOptions()
		opts.MaxDatasets = limit
		res, err := run(t, lab.PGOpen, opts)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if res.Exposure == nil || len(res.Exposure.Datasets) != limit {
			t.Errorf("MaxDatasets %d: got %+v", limit, res.Exposure)
		}
	}
}

func TestSecuredServerIsProtected(t *testing.T) {
	lab.Require(t, lab.PGSecured)
	res, err := run(t, lab.PGSecured, probe.DefaultOptions())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("status %q exposure %+v, want protected without exposure", res.Status, res.Exposure)
	}
	if res.Product != "PostgreSQL" || res.Detail == "" {
		t.Errorf("product %q detail %q", res.Product, res.Detail)
	}
}

// TestSessionIsReadOnly checks the settings every session of the probe gets
// before it runs a query, on the open lab server.
func TestSessionIsReadOnly(t *testing.T) {
	lab.Require(t, lab.PGOpen)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	tg := target(t, lab.PGOpen, probe.DefaultOptions())
	s := &session{target: tg, opts: tg.Options, timeout: 1500 * time.Millisecond}
	c, err := s.connect(ctx, "police")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer closeConn(ctx, c)
	for _, want := range []struct{ setting, value string }{
		{"transaction_read_only", "on"},
		{"default_transaction_read_only", "on"},
		{"statement_timeout", "1500ms"},
		{"lock_timeout", "1500ms"},
		{"application_name", "ajar"},
		{"session_authorization", "postgres"},
	} {
		var got string
		if err := c.QueryRow(ctx, "SHOW "+want.setting).Scan(&got); err != nil {
			t.Fatalf("SHOW %s: %v", want.setting, err)
		}
		if got != want.value {
			t.Errorf("%s = %q, want %q", want.setting, got, want.value)
		}
	}
	if got := c.PgConn().ParameterStatus("server_version"); got == "" {
		t.Error("no server_version reported")
	}
}
