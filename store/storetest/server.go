package storetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
)

// RunServer runs the tests of what `ajar serve` keeps: keys, disclosures,
// alert rules and the outbox, the event log.
func RunServer(t *testing.T, open func(t *testing.T) ajar.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	t.Run("Keys", func(t *testing.T) {
		s := open(t).(ajar.KeyStore)
		for i, k := range []ajar.APIKey{{ID: "k1", Name: "ci", Role: ajar.RoleReader, Created: t0}, {ID: "k2", Role: ajar.RoleAdmin, Created: t0.Add(time.Second)}} {
			if err := s.CreateKey(ctx, k, []byte{byte(i + 1), 2, 3}); err != nil {
				t.Fatal(err)
			}
		}
		k, err := s.KeyByHash(ctx, []byte{2, 2, 3})
		if err != nil || k.ID != "k2" || k.Role != ajar.RoleAdmin {
			t.Fatalf("KeyByHash: %+v %v", k, err)
		}
		if _, err := s.KeyByHash(ctx, []byte{9}); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("unknown hash: %v", err)
		}
		if err := s.RevokeKey(ctx, "k2", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.KeyByHash(ctx, []byte{2, 2, 3}); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("revoked key still found: %v", err)
		}
		if err := s.RevokeKey(ctx, "nope", t0); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("revoking an unknown key: %v", err)
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 2 || keys[1].Revoked == nil || keys[0].Revoked != nil {
			t.Errorf("Keys: %+v %v", keys, err)
		}
	})

	t.Run("Disclosure", func(t *testing.T) {
		st := open(t)
		s := st.(ajar.DisclosureStore)
		ev := event("127.0.10.5", 9200, "elasticsearch", ajar.StatusExposed, t0)
		if err := st.Record(ctx, &ev); err != nil {
			t.Fatal(err)
		}
		rec, err := st.Get(ctx, ev.Key())
		if err != nil {
			t.Fatal(err)
		}
		cur, log, err := s.Disclosure(ctx, rec.ID)
		if err != nil || cur.State != ajar.DisclosureNew || len(log) != 0 {
			t.Fatalf("fresh disclosure: %+v %v %v", cur, log, err)
		}
		if err := s.SetDisclosure(ctx, rec.ID, ajar.Disclosure{State: ajar.DisclosureNotified, Contact: "security@example.com", Channel: "email", By: "k2", At: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDisclosure(ctx, 999999, ajar.Disclosure{State: ajar.DisclosureTriaged, At: t0}); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("disclosure of an unknown exposure: %v", err)
		}
		// A closed event fixes it, with a line in the audit log.
		cl := event("127.0.10.5", 9200, "elasticsearch", ajar.StatusClosed, t0.Add(48*time.Hour))
		if err := st.Record(ctx, &cl); err != nil {
			t.Fatal(err)
		}
		cur, log, err = s.Disclosure(ctx, rec.ID)
		if err != nil || cur.State != ajar.DisclosureFixed || len(log) != 2 || log[0].Contact != "security@example.com" || !log[1].At.Equal(t0.Add(48*time.Hour)) {
			t.Fatalf("after close: %+v %+v %v", cur, log, err)
		}
		if se, ok := st.(ajar.Searcher); ok {
			res, err := se.Search(ctx, ajar.SearchRequest{Query: "disclosure:fixed"})
			if err != nil || res.Total != 1 {
				t.Errorf("search disclosure:fixed: %+v %v", res, err)
			}
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		s := open(t).(ajar.AlertStore)
		r := &ajar.AlertRule{Name: "mine", CIDRs: []string{"127.0.10.0/24"}, Webhook: "http://127.0.20.1/hook", Secret: "s3", Created: t0}
		if err := s.AddRule(ctx, r); err != nil || r.ID == 0 {
			t.Fatalf("AddRule: %+v %v", r, err)
		}
		rules, err := s.Rules(ctx)
		if err != nil || len(rules) != 1 || rules[0].Secret != "s3" || rules[0].CIDRs[0] != "127.0.10.0/24" {
			t.Fatalf("Rules: %+v %v", rules, err)
		}
		item := ajar.OutboxItem{RuleID: r.ID, EventID: 7, Change: "new", Payload: []byte(`{}`), NextTry: t0}
		for range 3 { // idempotent
			if err := s.Enqueue(ctx, []ajar.OutboxItem{item}); err != nil {
				t.Fatal(err)
			}
		}
		due, err := s.Due(ctx, t0, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("Due: %+v %v", due, err)
		}
		if err := s.Failed(ctx, due[0].ID, "connection refused", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Due(ctx, t0.Add(30*time.Second), 10); len(due) != 0 {
			t.Errorf("an item is due before its next try")
		}
		due, _ = s.Due(ctx, t0.Add(time.Minute), 10)
		if len(due) != 1 || due[0].Attempts != 1 || due[0].LastErr != "connection refused" {
			t.Fatalf("after a failure: %+v", due)
		}
		if err := s.Delivered(ctx, due[0].ID); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Due(ctx, t0.Add(time.Hour), 10); len(due) != 0 {
			t.Errorf("delivered item still due")
		}
		if c, err := s.Cursor(ctx, "alerts"); err != nil || c != 0 {
			t.Errorf("fresh cursor: %d %v", c, err)
		}
		for _, id := range []int64{5, 9} {
			if err := s.SetCursor(ctx, "alerts", id); err != nil {
				t.Fatal(err)
			}
		}
		if c, err := s.Cursor(ctx, "alerts"); err != nil || c != 9 {
			t.Errorf("cursor: %d %v", c, err)
		}
		if err := s.DeleteRule(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRule(ctx, r.ID); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
	})

	t.Run("EventLog", func(t *testing.T) {
		st := open(t)
		s := st.(ajar.EventLog)
		for i := range 5 {
			ev := event("127.0.10.6", uint16(6379+i), "redis", ajar.StatusExposed, t0.Add(time.Duration(i)*time.Minute))
			if err := st.Record(ctx, &ev); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.EventsSince(ctx, 0, 3)
		if err != nil || len(evs) != 3 || evs[0].Port != 6379 || evs[2].ID <= evs[1].ID {
			t.Fatalf("EventsSince(0, 3): %+v %v", evs, err)
		}
		rest, err := s.EventsSince(ctx, evs[2].ID, 100)
		if err != nil || len(rest) != 2 || rest[1].Port != 6383 {
			t.Fatalf("EventsSince(rest): %+v %v", rest, err)
		}
		rec, err := st.Get(ctx, ajar.Key{Addr: netip.MustParseAddr("127.0.10.6"), Port: 6380, Plugin: "redis"})
		if err != nil {
			t.Fatal(err)
		}
		byID, err := s.RecordByID(ctx, rec.ID)
		if err != nil || byID.Last.Port != 6380 {
			t.Fatalf("RecordByID: %+v %v", byID, err)
		}
		if _, err := s.RecordByID(ctx, 1<<40); !errors.Is(err, ajar.ErrNotFound) {
			t.Errorf("RecordByID of nothing: %v", err)
		}
	})
}
