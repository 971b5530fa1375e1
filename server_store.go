package ajar

import (
	"context"
	"time"
)

// Roles of API keys.
const (
	RoleReader = "reader"
	RoleAdmin  = "admin"
)

// APIKey is a key of the JSON API and the web UI. Only a hash of the secret
// is ever stored; the secret is shown once, when the key is created.
type APIKey struct {
	ID      string     `json:"id"`
	Name    string     `json:"name,omitempty"`
	Role    string     `json:"role"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// KeyStore keeps API keys.
type KeyStore interface {
	// CreateKey stores a key with the hash of its secret.
	CreateKey(ctx context.Context, k APIKey, secretHash []byte) error
	// KeyByHash finds a key that is not revoked by the hash of its secret,
	// or returns ErrNotFound.
	KeyByHash(ctx context.Context, secretHash []byte) (*APIKey, error)
	// Keys lists every key, revoked ones included.
	Keys(ctx context.Context) ([]APIKey, error)
	// RevokeKey revokes a key by id (ErrNotFound when there is none).
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// Disclosure states, in the order a disclosure usually goes.
const (
	DisclosureNew          = "new"
	DisclosureTriaged      = "triaged"
	DisclosureNotified     = "notified"
	DisclosureAcknowledged = "acknowledged"
	DisclosureFixed        = "fixed"
	DisclosureIgnored      = "ignored"
)

// Disclosure is where the telling of an exposure's owner stands.
type Disclosure struct {
	State string `json:"state"`
	// Contact, Channel and Note say whom, how and what, when notified.
	Contact string    `json:"contact,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Note    string    `json:"note,omitempty"`
	By      string    `json:"by,omitempty"` // who changed it: a key id or "cli"
	At      time.Time `json:"at"`
}

// DisclosureStore keeps the disclosure state of exposures and the audit log
// of every change.
type DisclosureStore interface {
	// SetDisclosure changes the state of an exposure (by record id) and
	// appends the change to its audit log, in one transaction.
	SetDisclosure(ctx context.Context, exposureID int64, d Disclosure) error
	// Disclosure returns the current state (state "new" when never set) and
	// the audit log, oldest first.
	Disclosure(ctx context.Context, exposureID int64) (Disclosure, []Disclosure, error)
}

// AlertRule says which changes someone wants to hear about and where.
type AlertRule struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name,omitempty"`
	CIDRs   []string `json:"cidrs,omitempty"`
	Names   []string `json:"names,omitempty"` // certificate or host name patterns: *.example.com
	ASNs    []uint32 `json:"asns,omitempty"`
	Webhook string   `json:"webhook,omitempty"`
	Email   string   `json:"email,omitempty"`
	// Secret signs webhook bodies (HMAC-SHA256); never returned by the API.
	Secret  string    `json:"-"`
	Created time.Time `json:"created"`
}

// OutboxItem is one alert to deliver, kept until delivered so that none is
// lost across a crash or restart.
type OutboxItem struct {
	ID       int64     `json:"id"`
	RuleID   int64     `json:"rule"`
	EventID  int64     `json:"event"`
	Change   string    `json:"change"` // new, changed, wiped, closed
	Payload  []byte    `json:"-"`      // the JSON body sent
	Attempts int       `json:"attempts"`
	NextTry  time.Time `json:"next_try"`
	LastErr  string    `json:"last_error,omitempty"`
}

// AlertStore keeps alert rules and the outbox.
type AlertStore interface {
	AddRule(ctx context.Context, r *AlertRule) error
	Rules(ctx context.Context) ([]AlertRule, error)
	DeleteRule(ctx context.Context, id int64) error
	// Enqueue adds items to the outbox; an item with the same rule and event
	// as one already queued is ignored (idempotent).
	Enqueue(ctx context.Context, items []OutboxItem) error
	// Due returns up to n undelivered items whose next try is at or before now.
	Due(ctx context.Context, now time.Time, n int) ([]OutboxItem, error)
	// Delivered removes an item from the outbox.
	Delivered(ctx context.Context, id int64) error
	// Failed records a failed attempt and when to try again.
	Failed(ctx context.Context, id int64, err string, next time.Time) error
	// Cursor returns the last event id a follower of the event log has
	// handled (0 when it never ran); SetCursor moves it.
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, id int64) error
}

// StoredEvent is an event with its position in the event log.
type StoredEvent struct {
	ID int64 `json:"id"`
	Event
}

// EventLog reads the event log in order, for integrations that follow it.
type EventLog interface {
	// EventsSince returns up to limit events with an id greater than since,
	// oldest first.
	EventsSince(ctx context.Context, since int64, limit int) ([]StoredEvent, error)
	// RecordByID returns the record of an exposure by its id.
	RecordByID(ctx context.Context, id int64) (*Record, error)
}
