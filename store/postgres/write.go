package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
)

// BeginScan registers a scan. Beginning a scan that exists already (a
// resumed scan, or every shard of a cluster scan) keeps what was stored first.
func (s *Store) BeginScan(ctx context.Context, sc ajar.ScanInfo) error {
	if sc.ID == "" {
		return errors.New("begin scan: empty scan id")
	}
	if sc.Started.IsZero() {
		return fmt.Errorf("begin scan %s: no start time", sc.ID)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO scans (id, started, finished, args) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, sc.ID, sc.Started.UTC(), utcPtr(sc.Finished), sc.Args)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin scan %s: %w", sc.ID, err)
	}
	return nil
}

// FinishScan marks a scan finished at t. A scan that was never begun gives
// ajar.ErrNotFound.
func (s *Store) FinishScan(ctx context.Context, id string, t time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scans SET finished = $1 WHERE id = $2`, t.UTC(), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ajar.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish scan %s: %w", id, err)
	}
	return nil
}

// Record appends ev to the event log and updates the exposure of its key, in
// one transaction, and fills ev's timeline fields (see ajar.Timeline).
// Before storing it puts ev's times in UTC and an IPv4-mapped ev.Addr in
// its IPv4 form. When Record fails, ev is left as it was and nothing is stored.
func (s *Store) Record(ctx context.Context, ev *ajar.Event) error {
	_, err := s.record(ctx, nil, ev)
	return err
}

// RecordOnce is Record for an observation with a deterministic id: the
// first call with an id stores the event; a later call with the same id
// stores nothing, leaves the exposure as it is, fills ev with the event
// stored the first time and returns false. A cluster worker names each
// observation by its scan, shard, key and sequence, so that a shard
// delivered twice is stored once.
func (s *Store) RecordOnce(ctx context.Context, id []byte, ev *ajar.Event) (stored bool, err error) {
	if len(id) == 0 {
		return false, errors.New("record event: empty event id")
	}
	return s.record(ctx, id, ev)
}

func (s *Store) record(ctx context.Context, id []byte, ev *ajar.Event) (bool, error) {
	if ev == nil {
		return false, invalid("record event: nil event")
	}
	e := normalize(*ev)
	k := e.Key()
	if err := validate(&e); err != nil {
		return false, fmt.Errorf("record %s: %w", k, err)
	}
	var stored bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stored, err = recordTx(ctx, tx, id, &e)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record %s: %w", k, err)
	}
	*ev = e
	return stored, nil
}

// normalize returns a copy of ev as stored: times in UTC, the address
// unmapped.
func normalize(ev ajar.Event) ajar.Event {
	ev.Time = ev.Time.UTC()
	if ev.TLS != nil {
		// A copy: the caller's TLS summary may be shared with other events.
		tls := *ev.TLS
		tls.NotBefore, tls.NotAfter = tls.NotBefore.UTC(), tls.NotAfter.UTC()
		ev.TLS = &tls
	}
	ev.Addr = ev.Addr.Unmap()
	return ev
}

// recordTx stores e in tx, filling its timeline. With an id already stored
// it fills e with the stored event instead and reports false.
func recordTx(ctx context.Context, tx pgx.Tx, id []byte, e *ajar.Event) (bool, error) {
	k := e.Key()
	var (
		b       pgx.Batch
		dupJS   []byte
		prev    *ajar.Record
		prevID  int64
		prevJS  []byte
		dupRows bool
	)
	// The log's lock, shared by every writer, lets a follower of the event
	// log wait for the writers in flight (see EventsSince). It is taken
	// before the key's, so that no writer waits for it holding a key.
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1, $2)`, logLockClass, logLockKey)
	// The key's lock orders writers of one key: the timeline is read, then
	// advanced, by one transaction at a time.
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, keyLock(k))
	if id != nil {
		b.Queue(`SELECT event FROM events WHERE dedupe = $1`, id).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&dupJS)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			dupRows = err == nil
			return err
		})
	}
	b.Queue(`SELECT id, last FROM exposures WHERE ip = $1 AND port = $2 AND plugin = $3`,
		k.Addr, int32(k.Port), k.Plugin).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&prevID, &prevJS)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return false, fmt.Errorf("read its exposure: %w", err)
	}
	if dupRows {
		stored, err := decodeEvent(dupJS)
		if err != nil {
			return false, fmt.Errorf("read the event stored first: %w", err)
		}
		*e = stored
		return false, nil
	}
	if prevJS != nil {
		last, err := decodeEvent(prevJS)
		if err != nil {
			return false, fmt.Errorf("read its exposure: %w", err)
		}
		prev = &ajar.Record{ID: prevID, Last: last}
	}
	ajar.Timeline(prev, e)

	js, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("encode event: %w", err)
	}
	var records, size *int64
	var severity *string
	if x := e.Exposure; x != nil {
		records, size = &x.Records, &x.Bytes
		severity = nullString(string(x.Severity))
	}
	args := []any{nullBytes(id), nullString(e.Scan), e.Time, k.Addr, int32(k.Port), k.Plugin, string(e.Status), e.Protocol,
		json.RawMessage(js), nullString(e.Protocol), e.FirstSeen, e.LastSeen, utcPtr(e.ClosedAt),
		records, size, severity}
	var exposureID int64
	err = tx.QueryRow(ctx, recordEvent, append(args, facts(e)...)...).Scan(&exposureID)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another transaction stored the id between our check and insert;
		// the key's lock makes that impossible, but the constraint decides.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert event: %w", err)
	}

	// Only an event just stored reaches the terms and the disclosure: a
	// re-delivered one returned above, so they advance once per event.
	var ib pgx.Batch
	queueTerms(&ib, exposureID, e)
	if e.Status == ajar.StatusClosed {
		queueFixOnClose(&ib, exposureID, e.Time)
	}
	if ib.Len() == 0 {
		return true, nil
	}
	if err := tx.SendBatch(ctx, &ib).Close(); err != nil {
		return false, fmt.Errorf("update the search terms: %w", err)
	}
	return true, nil
}

// The log's lock (two int4 keys: another key space than keyLock's int8).
const (
	logLockClass int32 = 0x616a6172 // "ajar"
	logLockKey   int32 = 0x6c6f6721 // "log!"
)

// recordEvent inserts the event and, only when it was inserted (its dedupe
// id is new), advances the exposure of its key and returns the exposure's
// id: a re-delivered observation leaves both untouched and returns no row.
// The exposure keeps the latest known protocol, records, bytes, severity and
// searchable facts ($17…$24, see facts) when the event has none (a closed
// event).
const recordEvent = `WITH ev AS (
	INSERT INTO events (dedupe, scan, time, ip, port, plugin, status, protocol, event)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (dedupe) DO NOTHING
	RETURNING id
)
INSERT INTO exposures AS x (ip, port, plugin, status, protocol, first_seen, last_seen, closed_at,
	records, bytes, severity, last_event, last,
	product, version, provider, hosting, asn, country, org, ransom)
SELECT $4, $5, $6, $7, $10, $11, $12, $13, $14, $15, $16, ev.id, $9,
	$17, $18, $19, $20, $21::bigint, $22, $23, coalesce($24::boolean, false) FROM ev
ON CONFLICT (ip, port, plugin) DO UPDATE SET
	status = excluded.status,
	protocol = coalesce(excluded.protocol, x.protocol),
	first_seen = excluded.first_seen,
	last_seen = excluded.last_seen,
	closed_at = excluded.closed_at,
	records = coalesce(excluded.records, x.records),
	bytes = coalesce(excluded.bytes, x.bytes),
	severity = coalesce(excluded.severity, x.severity),
	last_event = excluded.last_event,
	last = excluded.last,
	product = coalesce(excluded.product, x.product),
	version = coalesce(excluded.version, x.version),
	provider = coalesce(excluded.provider, x.provider),
	hosting = coalesce(excluded.hosting, x.hosting),
	asn = coalesce(excluded.asn, x.asn),
	country = coalesce(excluded.country, x.country),
	org = coalesce(excluded.org, x.org),
	ransom = coalesce($24::boolean, x.ransom)
RETURNING id`

// keyLock is the advisory lock key of an exposure key. Two keys that share a
// hash only wait for each other.
func keyLock(k ajar.Key) int64 {
	h := fnv.New64a()
	a := k.Addr.As16()
	h.Write(a[:])
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], k.Port)
	h.Write(p[:])
	h.Write([]byte(k.Plugin))
	return int64(h.Sum64())
}

// validate checks what the store needs of an event to key and order it.
func validate(e *ajar.Event) error {
	switch {
	case !e.Addr.IsValid():
		return invalid("event has no address")
	case e.Addr.Zone() != "":
		return invalid("address %s has a zone, which cannot be stored", e.Addr)
	case !e.Status.Valid():
		return invalid("event has an invalid status %q", e.Status)
	case e.Time.IsZero():
		return invalid("event has no time")
	}
	return nil
}

// normalAddr is the form of an address the store keys by: IPv4-mapped IPv6
// addresses are stored as IPv4, and zones are dropped.
func normalAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// nullString stores an empty string as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullBytes stores a nil slice as NULL.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// decodeEvent parses a stored event and puts its times in UTC.
func decodeEvent(b []byte) (ajar.Event, error) {
	var ev ajar.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return ajar.Event{}, fmt.Errorf("decode stored event: %w", err)
	}
	ev.Time = ev.Time.UTC()
	ev.FirstSeen = ev.FirstSeen.UTC()
	ev.LastSeen = ev.LastSeen.UTC()
	if ev.ClosedAt != nil {
		c := ev.ClosedAt.UTC()
		ev.ClosedAt = &c
	}
	if ev.TLS != nil {
		ev.TLS.NotBefore = ev.TLS.NotBefore.UTC()
		ev.TLS.NotAfter = ev.TLS.NotAfter.UTC()
	}
	return ev, nil
}
