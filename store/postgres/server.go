package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
)

var (
	_ ajar.KeyStore        = (*Store)(nil)
	_ ajar.DisclosureStore = (*Store)(nil)
	_ ajar.AlertStore      = (*Store)(nil)
	_ ajar.EventLog        = (*Store)(nil)
)

// inTx runs fn in one transaction with opts and commits it; what says what
// was being done in errors.
func (s *Store) inTx(ctx context.Context, what string, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// write runs fn in one read-write transaction.
func (s *Store) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, what, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

// read runs fn in one read-only transaction that sees one snapshot of the
// database throughout, as a read of the embedded store does.
func (s *Store) read(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, what, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// CreateKey stores a key with the hash of its secret.
func (s *Store) CreateKey(ctx context.Context, k ajar.APIKey, hash []byte) error {
	return s.write(ctx, "create key", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, name, role, hash, created) VALUES ($1, $2, $3, $4, $5)`,
			pgText(k.ID), pgText(k.Name), pgText(k.Role), hash, k.Created.UTC())
		return err
	})
}

// KeyByHash finds a key that is not revoked by the hash of its secret.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*ajar.APIKey, error) {
	var k ajar.APIKey
	err := s.read(ctx, "find key", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, name, role, created FROM api_keys WHERE hash = $1 AND revoked IS NULL`, hash).
			Scan(&k.ID, &k.Name, &k.Role, &k.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return ajar.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	k.Created = k.Created.UTC()
	return &k, nil
}

// Keys lists every key, oldest first, revoked ones included.
func (s *Store) Keys(ctx context.Context) ([]ajar.APIKey, error) {
	var out []ajar.APIKey
	err := s.read(ctx, "list keys", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, name, role, created, revoked FROM api_keys ORDER BY created, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k ajar.APIKey
			if err := rows.Scan(&k.ID, &k.Name, &k.Role, &k.Created, &k.Revoked); err != nil {
				return err
			}
			k.Created, k.Revoked = k.Created.UTC(), utcPtr(k.Revoked)
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeKey revokes a key by id; revoking it again keeps the first time.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "revoke key "+id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked = coalesce(revoked, $1) WHERE id = $2`, at.UTC(), pgText(id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ajar.ErrNotFound
		}
		return nil
	})
}

// SetDisclosure changes an exposure's disclosure state and appends the
// change to its audit log.
func (s *Store) SetDisclosure(ctx context.Context, id int64, d ajar.Disclosure) error {
	return s.write(ctx, "set disclosure", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `WITH x AS (UPDATE exposures SET disclosure = $2 WHERE id = $1 RETURNING id)
			INSERT INTO disclosures (exposure, state, contact, channel, note, changed_by, at)
			SELECT id, $2, $3, $4, $5, $6, $7 FROM x`,
			id, pgText(d.State), pgText(d.Contact), pgText(d.Channel), pgText(d.Note), pgText(d.By), d.At.UTC())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ajar.ErrNotFound
		}
		return nil
	})
}

// Disclosure returns an exposure's disclosure state ("new" when never set)
// and its audit log, oldest first.
func (s *Store) Disclosure(ctx context.Context, id int64) (ajar.Disclosure, []ajar.Disclosure, error) {
	var log []ajar.Disclosure
	err := s.read(ctx, "read disclosure", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT state, contact, channel, note, changed_by, at FROM disclosures
			WHERE exposure = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d ajar.Disclosure
			if err := rows.Scan(&d.State, &d.Contact, &d.Channel, &d.Note, &d.By, &d.At); err != nil {
				return err
			}
			d.At = d.At.UTC()
			log = append(log, d)
		}
		return rows.Err()
	})
	if err != nil {
		return ajar.Disclosure{}, nil, err
	}
	cur := ajar.Disclosure{State: ajar.DisclosureNew}
	if len(log) > 0 {
		cur = log[len(log)-1]
	}
	return cur, log, nil
}

// AddRule stores an alert rule and sets its id, and its creation time when
// it has none.
func (s *Store) AddRule(ctx context.Context, r *ajar.AlertRule) error {
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	js, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("add alert rule: %w", err)
	}
	var id int64
	err = s.write(ctx, "add alert rule", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO alert_rules (rule, secret, created) VALUES ($1, $2, $3) RETURNING id`,
			json.RawMessage(js), pgText(r.Secret), r.Created.UTC()).Scan(&id)
	})
	if err != nil {
		return err
	}
	r.ID = id
	return nil
}

// Rules lists the alert rules, oldest first.
func (s *Store) Rules(ctx context.Context) ([]ajar.AlertRule, error) {
	var out []ajar.AlertRule
	err := s.read(ctx, "list alert rules", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, rule, secret FROM alert_rules ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r      ajar.AlertRule
				id     int64
				js     []byte
				secret string
			)
			if err := rows.Scan(&id, &js, &secret); err != nil {
				return err
			}
			if err := json.Unmarshal(js, &r); err != nil {
				return fmt.Errorf("rule %d: %w", id, err)
			}
			r.ID, r.Secret = id, secret
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteRule removes a rule and its undelivered alerts.
func (s *Store) DeleteRule(ctx context.Context, id int64) error {
	return s.write(ctx, fmt.Sprintf("delete alert rule %d", id), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ajar.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE rule = $1`, id)
		return err
	})
}

// Enqueue adds alerts to the outbox, ignoring ones queued already (same
// rule and event).
func (s *Store) Enqueue(ctx context.Context, items []ajar.OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.write(ctx, "queue alerts", func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, it := range items {
			payload := it.Payload
			if payload == nil {
				payload = []byte{}
			}
			b.Queue(`INSERT INTO outbox (rule, event, change, payload, next_try) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (rule, event) DO NOTHING`, it.RuleID, it.EventID, pgText(it.Change), payload, it.NextTry.UTC())
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// Due returns up to n undelivered alerts whose next try is at or before now,
// the oldest first.
func (s *Store) Due(ctx context.Context, now time.Time, n int) ([]ajar.OutboxItem, error) {
	var limit any = n
	if n < 0 {
		limit = nil // LIMIT NULL: all, as a negative LIMIT is in SQLite
	}
	var out []ajar.OutboxItem
	err := s.read(ctx, "read outbox", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, rule, event, change, payload, attempts, next_try, last_err
			FROM outbox WHERE next_try <= $1 ORDER BY next_try, id LIMIT $2`, now.UTC(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it ajar.OutboxItem
			if err := rows.Scan(&it.ID, &it.RuleID, &it.EventID, &it.Change, &it.Payload, &it.Attempts, &it.NextTry, &it.LastErr); err != nil {
				return err
			}
			it.NextTry = it.NextTry.UTC()
			out = append(out, it)
		}
		return rows.Err()
	})
	return out, err
}

// Delivered removes a delivered alert.
func (s *Store) Delivered(ctx context.Context, id int64) error {
	return s.write(ctx, "mark alert delivered", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, id)
		return err
	})
}

// maxErrLen bounds the error text kept with an alert, in bytes.
const maxErrLen = 500

// Failed records a failed delivery and when to try again.
func (s *Store) Failed(ctx context.Context, id int64, msg string, next time.Time) error {
	msg = pgText(msg)
	if len(msg) > maxErrLen {
		// Cut on a character boundary: text must stay valid UTF-8.
		n := maxErrLen
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n]
	}
	return s.write(ctx, "mark alert failed", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_err = $1, next_try = $2 WHERE id = $3`,
			msg, next.UTC(), id)
		return err
	})
}

// EventsSince returns up to limit events (at most 1000) with an id greater
// than since, oldest first.
//
// Writers take ids from a sequence and may commit out of id order, so a
// follower reading whatever is committed could see id 8 before id 7 commits
// and move its cursor past 7 for good. EventsSince therefore first takes the
// log's lock exclusively, which waits for every Record in flight (each holds
// it shared) and holds back new ones for the length of one read: what it
// then reads is a prefix of the log that no later commit extends below.
func (s *Store) EventsSince(ctx context.Context, since int64, limit int) ([]ajar.StoredEvent, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []ajar.StoredEvent
	// Read committed: the read after the lock must see the commits the lock
	// waited for, which a snapshot taken by the lock's statement would not.
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, "read events", opts, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, logLockClass, logLockKey); err != nil {
			return fmt.Errorf("wait for the writers in flight: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id, event FROM events WHERE id > $1 ORDER BY id LIMIT $2`, since, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id int64
				js []byte
			)
			if err := rows.Scan(&id, &js); err != nil {
				return err
			}
			ev, err := decodeEvent(js)
			if err != nil {
				return fmt.Errorf("event %d: %w", id, err)
			}
			out = append(out, ajar.StoredEvent{ID: id, Event: ev})
		}
		return rows.Err()
	})
	return out, err
}

// RecordByID returns an exposure's record by its id.
func (s *Store) RecordByID(ctx context.Context, id int64) (*ajar.Record, error) {
	var rec *ajar.Record
	err := s.read(ctx, fmt.Sprintf("read exposure %d", id), func(tx pgx.Tx) error {
		var js []byte
		err := tx.QueryRow(ctx, `SELECT last FROM exposures WHERE id = $1`, id).Scan(&js)
		if errors.Is(err, pgx.ErrNoRows) {
			return ajar.ErrNotFound
		}
		if err != nil {
			return err
		}
		ev, err := decodeEvent(js)
		if err != nil {
			return err
		}
		rec = &ajar.Record{ID: id, Last: ev}
		return nil
	})
	return rec, err
}

// Cursor returns the last event id the follower name has handled (0 when it
// never ran).
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.read(ctx, "read cursor "+name, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM cursors WHERE name = $1`, pgText(name)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return id, err
}

// SetCursor moves the cursor of the follower name.
func (s *Store) SetCursor(ctx context.Context, name string, id int64) error {
	return s.write(ctx, "move cursor "+name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO cursors (name, id) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET id = excluded.id`, pgText(name), id)
		return err
	})
}
