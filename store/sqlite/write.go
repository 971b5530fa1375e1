package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ajar-scan/ajar"
)

// BeginScan registers a scan. Beginning a scan that exists already (a
// resumed scan) keeps what was stored first.
func (s *Store) BeginScan(ctx context.Context, sc ajar.ScanInfo) error {
	if sc.ID == "" {
		return errors.New("begin scan: empty scan id")
	}
	if sc.Started.IsZero() {
		return fmt.Errorf("begin scan %s: no start time", sc.ID)
	}
	started, err := nanos(sc.Started)
	if err != nil {
		return fmt.Errorf("begin scan %s: %w", sc.ID, err)
	}
	finished, err := nullNanos(sc.Finished)
	if err != nil {
		return fmt.Errorf("begin scan %s: %w", sc.ID, err)
	}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin scan %s: %w", sc.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO scans (id, started, finished, args) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, sc.ID, started, finished, sc.Args); err != nil {
		return fmt.Errorf("begin scan %s: insert: %w", sc.ID, err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("begin scan %s: commit: %w", sc.ID, err)
	}
	return nil
}

// FinishScan marks a scan finished at t. A scan that was never begun gives
// ajar.ErrNotFound.
func (s *Store) FinishScan(ctx context.Context, id string, t time.Time) error {
	finished, err := nanos(t)
	if err != nil {
		return fmt.Errorf("finish scan %s: %w", id, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish scan %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE scans SET finished = ? WHERE id = ?`, finished, id)
	if err != nil {
		return fmt.Errorf("finish scan %s: update: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish scan %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("finish scan %s: %w", id, ajar.ErrNotFound)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("finish scan %s: commit: %w", id, err)
	}
	return nil
}

// Record appends ev to the event log and updates the exposure of its key, in
// one transaction, and fills ev's timeline fields (see ajar.Timeline).
// Before storing it puts ev's times in UTC and an IPv4-mapped ev.Addr in
// its IPv4 form. When Record fails, ev is left as it was and nothing is stored.
func (s *Store) Record(ctx context.Context, ev *ajar.Event) error {
	if ev == nil {
		return errors.New("record event: nil event")
	}
	e := *ev
	e.Time = e.Time.UTC()
	if e.TLS != nil {
		// A copy: the caller's TLS summary may be shared with other events.
		tls := *e.TLS
		tls.NotBefore, tls.NotAfter = tls.NotBefore.UTC(), tls.NotAfter.UTC()
		e.TLS = &tls
	}
	e.Addr = e.Addr.Unmap()
	k := e.Key()
	if err := validate(&e); err != nil {
		return fmt.Errorf("record %s: %w", k, err)
	}
	if err := s.record(ctx, &e); err != nil {
		return fmt.Errorf("record %s: %w", k, cause(ctx, err))
	}
	*ev = e
	return nil
}

// record stores e, whose timeline it fills, in one transaction.
func (s *Store) record(ctx context.Context, e *ajar.Event) error {
	at, err := nanos(e.Time)
	if err != nil {
		return err
	}
	ip := addrKey(e.Addr)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	var (
		prev   *ajar.Record
		prevID int64
		prevJS []byte
	)
	err = tx.StmtContext(ctx, s.stmts.exposure).QueryRowContext(ctx, ip, e.Port, e.Plugin).Scan(&prevID, &prevJS)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read its exposure: %w", err)
	default:
		last, err := decodeEvent(prevJS)
		if err != nil {
			return fmt.Errorf("read its exposure: %w", err)
		}
		prev = &ajar.Record{ID: prevID, Last: last}
	}
	ajar.Timeline(prev, e)

	js, err := encodeEvent(e)
	if err != nil {
		return err
	}
	first, err := nanos(e.FirstSeen)
	if err != nil {
		return fmt.Errorf("first seen: %w", err)
	}
	lastSeen, err := nanos(e.LastSeen)
	if err != nil {
		return fmt.Errorf("last seen: %w", err)
	}
	closed, err := nullNanos(e.ClosedAt)
	if err != nil {
		return fmt.Errorf("closed at: %w", err)
	}
	var records, size, severity any
	if x := e.Exposure; x != nil {
		records, size, severity = x.Records, x.Bytes, nullString(string(x.Severity))
	}

	res, err := tx.StmtContext(ctx, s.stmts.event).ExecContext(ctx,
		nullString(e.Scan), at, ip, e.Addr.String(), e.Port, e.Plugin, string(e.Status), e.Protocol, string(js))
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	eventID, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	if s.afterEvent != nil {
		s.afterEvent()
	}
	if _, err := tx.StmtContext(ctx, s.stmts.upsert).ExecContext(ctx,
		ip, e.Addr.String(), e.Port, e.Plugin, string(e.Status), nullString(e.Protocol),
		first, lastSeen, closed, records, size, severity, eventID, string(js)); err != nil {
		return fmt.Errorf("update exposure: %w", err)
	}
	var id int64
	if err := tx.StmtContext(ctx, s.stmts.exposure).QueryRowContext(ctx, ip, e.Port, e.Plugin).Scan(&id, &js); err != nil {
		return fmt.Errorf("read back exposure: %w", err)
	}
	if err := index(ctx, tx, id, e); err != nil {
		return err
	}
	if e.Status == ajar.StatusClosed {
		if err := fixOnClose(ctx, tx, id, e.Time); err != nil {
			return fmt.Errorf("update disclosure: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// The statements of Record, prepared once on the write connection.
const (
	selectExposure = `SELECT id, last_json FROM exposures WHERE ip = ? AND port = ? AND plugin = ?`
	insertEvent    = `INSERT INTO events (scan, time, ip, ip_text, port, plugin, status, protocol, json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// upsertExposure keeps the latest known protocol, records, bytes and
	// severity when the event has none (a closed event).
	upsertExposure = `INSERT INTO exposures (ip, ip_text, port, plugin, status, protocol,
			first_seen, last_seen, closed_at, records, bytes, severity, last_event, last_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip, port, plugin) DO UPDATE SET
			status = excluded.status,
			protocol = coalesce(excluded.protocol, protocol),
			first_seen = excluded.first_seen,
			last_seen = excluded.last_seen,
			closed_at = excluded.closed_at,
			records = coalesce(excluded.records, records),
			bytes = coalesce(excluded.bytes, bytes),
			severity = coalesce(excluded.severity, severity),
			last_event = excluded.last_event,
			last_json = excluded.last_json`
)

// validate checks what the store needs of an event to key and order it.
func validate(e *ajar.Event) error {
	switch {
	case !e.Addr.IsValid():
		return errors.New("event has no address")
	case e.Addr.Zone() != "":
		return fmt.Errorf("address %s has a zone, which cannot be stored", e.Addr)
	case !e.Status.Valid():
		return fmt.Errorf("event has an invalid status %q", e.Status)
	case e.Time.IsZero():
		return errors.New("event has no time")
	}
	return nil
}

// commit commits tx, saying why when ctx ended first (see cause).
func commit(ctx context.Context, tx *sql.Tx) error {
	return cause(ctx, tx.Commit())
}

// cause puts the context's error in front of err once ctx has ended: then
// database/sql rolls the transaction back on its own and closes its
// statements, and reports that ("sql: transaction has already been committed
// or rolled back", "sql: statement is closed") rather than why.
func cause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (%v)", ctx.Err(), err)
}

// nullString stores an empty string as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
