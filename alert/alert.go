// Package alert tells owners when their network leaks: it follows the event
// log, matches changes against alert rules, and delivers each alert from a
// crash-safe outbox by signed webhook or e-mail.
package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

// Store is what alerting needs of a store.
type Store interface {
	ajar.Store
	ajar.EventLog
	ajar.AlertStore
}

// The changes that raise alerts.
const (
	ChangeNew     = "new"     // an exposure appeared (or came back)
	ChangeChanged = "changed" // an exposure's data changed
	ChangeWiped   = "wiped"   // its data vanished, a ransom note may remain
	ChangeClosed  = "closed"  // it is gone or asks for credentials now
)

// ChangeOf says what an event changes, given the key's previous event (nil
// for the first). Events that change nothing worth telling give "".
func ChangeOf(prev, ev *ajar.Event) string {
	switch ev.Status {
	case ajar.StatusClosed:
		if prev != nil && prev.Status != ajar.StatusClosed {
			return ChangeClosed
		}
	case ajar.StatusWiped:
		if prev == nil || prev.Status != ajar.StatusWiped {
			return ChangeWiped
		}
	case ajar.StatusExposed:
		if prev == nil || prev.Status != ajar.StatusExposed && prev.Status != ajar.StatusWiped {
			return ChangeNew
		}
		if prev.Status == ajar.StatusWiped || dataChanged(prev.Exposure, ev.Exposure) {
			return ChangeChanged
		}
	}
	return ""
}

// dataChanged reports a change in datasets, records (by more than 10 %) or
// data classes.
func dataChanged(a, b *ajar.Exposure) bool {
	if a == nil || b == nil {
		return a != b
	}
	names := func(e *ajar.Exposure) []string {
		var out []string
		for _, d := range e.Datasets {
			out = append(out, d.Name)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(names(a), names(b)) || !slices.Equal(a.Classes, b.Classes) {
		return true
	}
	d := a.Records - b.Records
	if d < 0 {
		d = -d
	}
	return d*10 > max(a.Records, b.Records)
}

// Matches reports whether a rule covers an event: its address in one of the
// rule's CIDRs, one of its names (certificate or host) matching one of the
// rule's patterns, or its ASN among the rule's.
func Matches(r *ajar.AlertRule, ev *ajar.Event) bool {
	for _, c := range r.CIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ev.Addr) {
			return true
		}
		if a, err := netip.ParseAddr(c); err == nil && a.Unmap() == ev.Addr.Unmap() {
			return true
		}
	}
	if len(r.Names) > 0 {
		var names []string
		if ev.Host != "" {
			names = append(names, ev.Host)
		}
		if ev.TLS != nil {
			names = append(names, ev.TLS.Names...)
		}
		for _, pat := range r.Names {
			for _, n := range names {
				if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(n)); ok {
					return true
				}
			}
		}
	}
	if a := ev.Attribution; a != nil && a.ASN != 0 && slices.Contains(r.ASNs, a.ASN) {
		return true
	}
	return false
}

// Payload is the JSON body of an alert.
type Payload struct {
	Change string     `json:"change"`
	Rule   int64      `json:"rule"`
	Time   time.Time  `json:"time"`
	Event  ajar.Event `json:"event"`
}

// Sign computes the signature header of a webhook body: the Unix time and
// the hex HMAC-SHA256 of "time.body" under the rule's secret, so that a
// receiver can check both origin and freshness.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header made by Sign, allowing a clock skew.
func Verify(secret, header string, body []byte, now time.Time, skew time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(n, 0)); d > skew || d < -skew {
		return errors.New("signature too old or from the future")
	}
	want := Sign(secret, time.Unix(n, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature does not match")
	}
	return nil
}

// Matcher follows the event log and queues alerts for the rules that match.
type Matcher struct {
	Store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Batch is how many events one Step reads (default 500).
	Batch int
}

// cursorName is the matcher's place in the event log.
const cursorName = "alerts"

// Step handles the events after the matcher's cursor, queues their alerts and
// moves the cursor. Queueing is idempotent, so a crash between the two
// costs nothing: the next Step queues the same alerts again, which the
// outbox ignores. It returns how many events it read.
func (m *Matcher) Step(ctx context.Context) (int, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	batch := m.Batch
	if batch <= 0 {
		batch = 500
	}
	cur, err := m.Store.Cursor(ctx, cursorName)
	if err != nil {
		return 0, err
	}
	evs, err := m.Store.EventsSince(ctx, cur, batch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	rules, err := m.Store.Rules(ctx)
	if err != nil {
		return 0, err
	}
	var items []ajar.OutboxItem
	for i := range evs {
		ev := &evs[i]
		var matched []*ajar.AlertRule
		for j := range rules {
			if Matches(&rules[j], &ev.Event) {
				matched = append(matched, &rules[j])
			}
		}
		if len(matched) == 0 {
			continue
		}
		prev, err := m.previous(ctx, ev)
		if err != nil {
			return 0, err
		}
		change := ChangeOf(prev, &ev.Event)
		if change == "" {
			continue
		}
		for _, r := range matched {
			body, err := json.Marshal(Payload{Change: change, Rule: r.ID, Time: now().UTC(), Event: ev.Event})
			if err != nil {
				return 0, err
			}
			items = append(items, ajar.OutboxItem{RuleID: r.ID, EventID: ev.ID, Change: change, Payload: body, NextTry: now().UTC()})
		}
	}
	if err := m.Store.Enqueue(ctx, items); err != nil {
		return 0, fmt.Errorf("queue alerts: %w", err)
	}
	if err := m.Store.SetCursor(ctx, cursorName, evs[len(evs)-1].ID); err != nil {
		return 0, err
	}
	return len(evs), nil
}

// previous finds the event of the same key recorded just before ev.
func (m *Matcher) previous(ctx context.Context, ev *ajar.StoredEvent) (*ajar.Event, error) {
	all, err := m.Store.Events(ctx, ev.Key())
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Time.Equal(ev.Time) && all[i].Status == ev.Status {
			if i == 0 {
				return nil, nil
			}
			return &all[i-1], nil
		}
	}
	return nil, nil
}
