package ajar

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrNotFound is returned by a Store when the asked-for record does not exist.
var ErrNotFound = errors.New("not found")

// Record is the derived state of one exposure key: its latest event and its
// timeline. The timeline covers the current open period: a key that closes
// and later reopens starts a new period (the events keep the whole history).
type Record struct {
	ID int64
	// Last is the latest event stored for the key; its FirstSeen, LastSeen,
	// ClosedAt carry the timeline.
	Last Event
}

// Status is the status of the latest event.
func (r *Record) Status() Status { return r.Last.Status }

// Filter selects records. Zero values select everything.
type Filter struct {
	Status   []Status
	Protocol []string
	// Addr and Port, when set, restrict to one address or one address and port.
	Addr netip.Addr
	Port uint16
	// Prefix restricts to addresses inside it.
	Prefix netip.Prefix
	Limit  int
}

// ScanInfo describes one run of a scan.
type ScanInfo struct {
	ID       string
	Started  time.Time
	Finished *time.Time
	// Args is the command line or request that started the scan, for people.
	Args string
}

// Store keeps events and the exposures derived from them. Implementations
// must be safe for concurrent use.
type Store interface {
	// BeginScan registers a scan.
	BeginScan(ctx context.Context, s ScanInfo) error
	// FinishScan marks a scan finished at t.
	FinishScan(ctx context.Context, id string, t time.Time) error
	// Record appends ev to the event log and updates the record of its key
	// in one transaction. It fills ev.FirstSeen, ev.LastSeen, ev.ClosedAt
	// and ev.OpenFor from the record's timeline.
	Record(ctx context.Context, ev *Event) error
	// Get returns the record of one key, or ErrNotFound.
	Get(ctx context.Context, k Key) (*Record, error)
	// List returns the records matching f, ordered by address, port, plugin.
	List(ctx context.Context, f Filter) ([]Record, error)
	// Events returns the events of one key, oldest first.
	Events(ctx context.Context, k Key) ([]Event, error)
	// Close releases the store.
	Close() error
}

// Timeline computes the timeline fields of ev, the next observation of a key
// whose previous record is prev (nil when the key is new). Both store
// implementations call it so that they agree on what a period is.
func Timeline(prev *Record, ev *Event) {
	t := ev.Time
	ev.ClosedAt, ev.OpenFor = nil, nil
	if prev == nil || prev.Last.Status == StatusClosed {
		// A new key, or one that reopens after it was closed: a new period.
		ev.FirstSeen, ev.LastSeen = t, t
		if ev.Status == StatusClosed {
			ev.ClosedAt = &t
			zero := int64(0)
			ev.OpenFor = &zero
		}
		return
	}
	ev.FirstSeen = prev.Last.FirstSeen
	ev.LastSeen = prev.Last.LastSeen
	if ev.Status == StatusClosed {
		c := t
		ev.ClosedAt = &c
		d := int64(t.Sub(ev.FirstSeen).Round(time.Second) / time.Second)
		ev.OpenFor = &d
		return
	}
	ev.LastSeen = t
}

// SearchRequest asks for the exposures matching a query of the search
// language (see package query), a page at a time.
type SearchRequest struct {
	Query string
	// Limit is the page size (default 50, at most 1000).
	Limit int
	// Cursor continues after the last item of a previous page.
	Cursor string
	// Facets names fields whose value counts are wanted.
	Facets []string
	// Now anchors relative times in the query ("-7d"); zero means now.
	Now time.Time
}

// FacetCount is how many matching exposures have one value of a field.
type FacetCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// SearchResult is one page of a search.
type SearchResult struct {
	Total      int64                   `json:"total"`
	Items      []Record                `json:"-"`
	Facets     map[string][]FacetCount `json:"facets,omitempty"`
	NextCursor string                  `json:"next_cursor,omitempty"`
}

// Searcher is a store that answers the search language. A query error is
// returned as is (package query's *Error), so callers can tell bad input
// from a failing store.
type Searcher interface {
	Search(ctx context.Context, r SearchRequest) (*SearchResult, error)
}
