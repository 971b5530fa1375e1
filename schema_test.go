package ajar_test

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/docs"
)

func validate(t *testing.T, ev *ajar.Event) error {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return docs.Validate(b)
}

func TestEventMatchesSchema(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	closed := now.Add(time.Hour)
	openFor := int64(3600)
	good := []ajar.Event{
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 9200},
			Service: ajar.Service{Transport: "tcp", Protocol: "redis", Product: "Redis", Version: "7.0.15"},
			Plugin:  "redis", Status: ajar.StatusExposed, FirstSeen: now, LastSeen: now,
			Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessAdmin, Records: 2, Bytes: 10,
				Datasets: []ajar.Dataset{{Name: "db0", Records: 2, Bytes: 10, Fields: []string{"name"}}},
				Severity: ajar.SeverityCritical, SeverityRule: "admin",
				Evidence: &ajar.Evidence{Request: "INFO keyspace", Response: "db0:keys=2"}}},
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("::1"), Port: 5432},
			Service: ajar.Service{Transport: "tcp", Protocol: "postgresql"}, Plugin: "postgresql",
			Status: ajar.StatusClosed, FirstSeen: now, LastSeen: now, ClosedAt: &closed, OpenFor: &openFor},
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.6"), Port: 2024},
			Service: ajar.Service{Transport: "tcp"}, Status: ajar.StatusOpen, FirstSeen: now, LastSeen: now},
	}
	for _, ev := range good {
		if err := validate(t, &ev); err != nil {
			t.Errorf("%s %s: %v", ev.Target, ev.Status, err)
		}
	}
	bad := []ajar.Event{
		{Schema: "ajar/0", Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 1}, Service: ajar.Service{Transport: "tcp"}, Status: ajar.StatusOpen},
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 1}, Service: ajar.Service{Transport: "tcp"}, Status: "leaky"},
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 1}, Service: ajar.Service{Transport: "tcp"}, Plugin: "redis", Status: ajar.StatusExposed},
		{Schema: ajar.Schema, Time: now, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 1}, Service: ajar.Service{Transport: "tcp"}, Plugin: "redis", Status: ajar.StatusClosed},
	}
	for _, ev := range bad {
		if err := validate(t, &ev); err == nil {
			t.Errorf("schema accepted a bad event: %+v", ev)
		}
	}
}
