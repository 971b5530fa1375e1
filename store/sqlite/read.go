package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ajar-scan/ajar"
)

// readTx begins a read-only transaction: one snapshot of the database.
func (s *Store) readTx(ctx context.Context) (*sql.Tx, error) {
	return s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// Get returns the record of one key, or an error wrapping ajar.ErrNotFound.
func (s *Store) Get(ctx context.Context, k ajar.Key) (*ajar.Record, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %s: begin: %w", k, err)
	}
	defer tx.Rollback()

	var (
		id int64
		js []byte
	)
	err = tx.QueryRowContext(ctx, `SELECT id, last_json FROM exposures WHERE ip = ? AND port = ? AND plugin = ?`,
		addrKey(k.Addr), k.Port, k.Plugin).Scan(&id, &js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get %s: %w", k, ajar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	last, err := decodeEvent(js)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	return &ajar.Record{ID: id, Last: last}, nil
}

// List returns the records matching f, ordered by address (IPv4 before IPv6,
// each numerically), port and plugin. A Port without an Addr selects that
// port on every address.
func (s *Store) List(ctx context.Context, f ajar.Filter) ([]ajar.Record, error) {
	var (
		where []string
		args  []any
	)
	if len(f.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Status))+")")
		for _, st := range f.Status {
			args = append(args, string(st))
		}
	}
	if len(f.Protocol) > 0 {
		where = append(where, "protocol IN ("+placeholders(len(f.Protocol))+")")
		for _, p := range f.Protocol {
			args = append(args, p)
		}
	}
	if f.Addr.IsValid() {
		where = append(where, "ip = ?")
		args = append(args, addrKey(f.Addr))
	}
	if f.Port != 0 {
		where = append(where, "port = ?")
		args = append(args, f.Port)
	}
	if f.Prefix.IsValid() {
		lo, hi := prefixRange(f.Prefix)
		where = append(where, "ip BETWEEN ? AND ?")
		args = append(args, lo, hi)
	}
	q := "SELECT id, last_json FROM exposures"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ip, port, plugin"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}

	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("list exposures: begin: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list exposures: %w", err)
	}
	defer rows.Close()
	var out []ajar.Record
	for rows.Next() {
		var (
			id int64
			js []byte
		)
		if err := rows.Scan(&id, &js); err != nil {
			return nil, fmt.Errorf("list exposures: %w", err)
		}
		last, err := decodeEvent(js)
		if err != nil {
			return nil, fmt.Errorf("list exposures: exposure %d: %w", id, err)
		}
		out = append(out, ajar.Record{ID: id, Last: last})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exposures: %w", err)
	}
	return out, nil
}

// Events returns the events of one key in the order they were recorded,
// oldest first; a key never recorded has none (and no error).
func (s *Store) Events(ctx context.Context, k ajar.Key) ([]ajar.Event, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("events of %s: begin: %w", k, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT json FROM events WHERE ip = ? AND port = ? AND plugin = ? ORDER BY id`,
		addrKey(k.Addr), k.Port, k.Plugin)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", k, err)
	}
	defer rows.Close()
	var out []ajar.Event
	for rows.Next() {
		var js []byte
		if err := rows.Scan(&js); err != nil {
			return nil, fmt.Errorf("events of %s: %w", k, err)
		}
		ev, err := decodeEvent(js)
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", k, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of %s: %w", k, err)
	}
	return out, nil
}

// placeholders returns n comma-separated '?'.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
