package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ajar-scan/ajar"
)

var (
	_ ajar.KeyStore        = (*Store)(nil)
	_ ajar.DisclosureStore = (*Store)(nil)
	_ ajar.AlertStore      = (*Store)(nil)
	_ ajar.EventLog        = (*Store)(nil)
)

// write runs fn in one write transaction.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// read runs fn in one read-only transaction.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.readTx(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CreateKey stores a key with the hash of its secret.
func (s *Store) CreateKey(ctx context.Context, k ajar.APIKey, hash []byte) error {
	created, err := nanos(k.Created)
	if err != nil {
		return err
	}
	return s.write(ctx, "create key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, role, hash, created) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Role, hash, created)
		return err
	})
}

// KeyByHash finds a live key by the hash of its secret.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*ajar.APIKey, error) {
	var k ajar.APIKey
	err := s.read(ctx, "find key", func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT id, name, role, created FROM api_keys WHERE hash = ? AND revoked IS NULL`, hash).
			Scan(&k.ID, &k.Name, &k.Role, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ajar.ErrNotFound
		}
		k.Created = fromNanos(created)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// Keys lists every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]ajar.APIKey, error) {
	var out []ajar.APIKey
	err := s.read(ctx, "list keys", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, role, created, revoked FROM api_keys ORDER BY created, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k ajar.APIKey
			var created int64
			var revoked sql.NullInt64
			if err := rows.Scan(&k.ID, &k.Name, &k.Role, &created, &revoked); err != nil {
				return err
			}
			k.Created = fromNanos(created)
			if revoked.Valid {
				t := fromNanos(revoked.Int64)
				k.Revoked = &t
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeKey revokes a key by id.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	n, err := nanos(at)
	if err != nil {
		return err
	}
	return s.write(ctx, "revoke key "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked = coalesce(revoked, ?) WHERE id = ?`, n, id)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c == 0 {
			return ajar.ErrNotFound
		}
		return nil
	})
}

// SetDisclosure changes an exposure's disclosure state and logs the change.
func (s *Store) SetDisclosure(ctx context.Context, id int64, d ajar.Disclosure) error {
	return s.write(ctx, "set disclosure", func(tx *sql.Tx) error { return setDisclosure(ctx, tx, id, d) })
}

func setDisclosure(ctx context.Context, tx *sql.Tx, id int64, d ajar.Disclosure) error {
	at, err := nanos(d.At)
	if err != nil {
		return err
	}
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM exposures WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return ajar.ErrNotFound
	} else if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE exposures SET disclosure = ? WHERE id = ?`, d.State, id); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO disclosures (exposure, state, contact, channel, note, by, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, d.State, d.Contact, d.Channel, d.Note, d.By, at)
	return err
}

// fixOnClose marks an exposure under disclosure fixed when it closes.
func fixOnClose(ctx context.Context, tx *sql.Tx, id int64, at time.Time) error {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT disclosure FROM exposures WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	switch state {
	case ajar.DisclosureTriaged, ajar.DisclosureNotified, ajar.DisclosureAcknowledged:
		return setDisclosure(ctx, tx, id, ajar.Disclosure{State: ajar.DisclosureFixed, By: "ajar",
			Note: "closed: a scan found it gone or asking for credentials", At: at})
	}
	return nil
}

// Disclosure returns an exposure's disclosure state and its audit log.
func (s *Store) Disclosure(ctx context.Context, id int64) (ajar.Disclosure, []ajar.Disclosure, error) {
	var log []ajar.Disclosure
	err := s.read(ctx, "read disclosure", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT state, contact, channel, note, by, at FROM disclosures WHERE exposure = ? ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d ajar.Disclosure
			var at int64
			if err := rows.Scan(&d.State, &d.Contact, &d.Channel, &d.Note, &d.By, &at); err != nil {
				return err
			}
			d.At = fromNanos(at)
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

// AddRule stores an alert rule and sets its id and creation time.
func (s *Store) AddRule(ctx context.Context, r *ajar.AlertRule) error {
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	created, err := nanos(r.Created)
	if err != nil {
		return err
	}
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.write(ctx, "add alert rule", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (json, secret, created) VALUES (?, ?, ?)`, js, r.Secret, created)
		if err != nil {
			return err
		}
		r.ID, err = res.LastInsertId()
		return err
	})
}

// Rules lists the alert rules, oldest first.
func (s *Store) Rules(ctx context.Context) ([]ajar.AlertRule, error) {
	var out []ajar.AlertRule
	err := s.read(ctx, "list alert rules", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, json, secret FROM alert_rules ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ajar.AlertRule
			var id int64
			var js []byte
			var secret string
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
	return s.write(ctx, fmt.Sprintf("delete alert rule %d", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ajar.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE rule = ?`, id)
		return err
	})
}

// Enqueue adds alerts to the outbox, ignoring ones already queued.
func (s *Store) Enqueue(ctx context.Context, items []ajar.OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.write(ctx, "queue alerts", func(tx *sql.Tx) error {
		for _, it := range items {
			next, err := nanos(it.NextTry)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox (rule, event, change, payload, next_try) VALUES (?, ?, ?, ?, ?)`,
				it.RuleID, it.EventID, it.Change, it.Payload, next); err != nil {
				return err
			}
		}
		return nil
	})
}

// Due returns undelivered alerts whose time has come, oldest first.
func (s *Store) Due(ctx context.Context, now time.Time, n int) ([]ajar.OutboxItem, error) {
	at, err := nanos(now)
	if err != nil {
		return nil, err
	}
	var out []ajar.OutboxItem
	err = s.read(ctx, "read outbox", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, rule, event, change, payload, attempts, next_try, last_err
			FROM outbox WHERE next_try <= ? ORDER BY next_try, id LIMIT ?`, at, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it ajar.OutboxItem
			var next int64
			if err := rows.Scan(&it.ID, &it.RuleID, &it.EventID, &it.Change, &it.Payload, &it.Attempts, &next, &it.LastErr); err != nil {
				return err
			}
			it.NextTry = fromNanos(next)
			out = append(out, it)
		}
		return rows.Err()
	})
	return out, err
}

// Delivered removes a delivered alert.
func (s *Store) Delivered(ctx context.Context, id int64) error {
	return s.write(ctx, "mark alert delivered", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id)
		return err
	})
}

// Failed records a failed delivery and the next attempt.
func (s *Store) Failed(ctx context.Context, id int64, msg string, next time.Time) error {
	n, err := nanos(next)
	if err != nil {
		return err
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return s.write(ctx, "mark alert failed", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_err = ?, next_try = ? WHERE id = ?`, msg, n, id)
		return err
	})
}

// EventsSince returns events after an id, oldest first.
func (s *Store) EventsSince(ctx context.Context, since int64, limit int) ([]ajar.StoredEvent, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []ajar.StoredEvent
	err := s.read(ctx, "read events", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, json FROM events WHERE id > ? ORDER BY id LIMIT ?`, since, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var js []byte
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

// RecordByID returns an exposure's record by id.
func (s *Store) RecordByID(ctx context.Context, id int64) (*ajar.Record, error) {
	var rec *ajar.Record
	err := s.read(ctx, fmt.Sprintf("read exposure %d", id), func(tx *sql.Tx) error {
		var js []byte
		err := tx.QueryRowContext(ctx, `SELECT last_json FROM exposures WHERE id = ?`, id).Scan(&js)
		if errors.Is(err, sql.ErrNoRows) {
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

// Cursor returns how far a follower of the event log has read.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.read(ctx, "read cursor "+name, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM cursors WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return id, err
}

// SetCursor moves a follower's cursor.
func (s *Store) SetCursor(ctx context.Context, name string, id int64) error {
	return s.write(ctx, "move cursor "+name, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cursors (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id`, name, id)
		return err
	})
}
