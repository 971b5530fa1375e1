package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
)

// Get returns the record of one key, or an error wrapping ajar.ErrNotFound.
func (s *Store) Get(ctx context.Context, k ajar.Key) (*ajar.Record, error) {
	if !k.Addr.IsValid() {
		return nil, fmt.Errorf("get %s: %w", k, ajar.ErrNotFound)
	}
	var (
		id int64
		js []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id, last FROM exposures WHERE ip = $1 AND port = $2 AND plugin = $3`,
		normalAddr(k.Addr), int32(k.Port), k.Plugin).Scan(&id, &js)
	if errors.Is(err, pgx.ErrNoRows) {
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Status) > 0 {
		st := make([]string, len(f.Status))
		for i, x := range f.Status {
			st[i] = string(x)
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	if len(f.Protocol) > 0 {
		where = append(where, "protocol = ANY("+arg(f.Protocol)+")")
	}
	if f.Addr.IsValid() {
		where = append(where, "ip = "+arg(normalAddr(f.Addr)))
	}
	if f.Port != 0 {
		where = append(where, "port = "+arg(int32(f.Port)))
	}
	if f.Prefix.IsValid() {
		where = append(where, "ip <<= "+arg(normalPrefix(f.Prefix))+"::inet")
	}
	q := "SELECT id, last FROM exposures"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ip, port, plugin"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	out, err := s.records(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list exposures: %w", err)
	}
	return out, nil
}

// Unseen returns the records whose latest status is exposed, open or wiped
// and whose port had no event in scan, ordered as List orders them: the
// candidates of a cluster scan's closing pass, which runs once all its
// shards are stored. The caller keeps those inside the scanned space.
func (s *Store) Unseen(ctx context.Context, scan string) ([]ajar.Record, error) {
	out, err := s.records(ctx, `SELECT x.id, x.last FROM exposures x
		WHERE x.status IN ('exposed', 'open', 'wiped')
		AND NOT EXISTS (SELECT 1 FROM events e WHERE e.scan = $1 AND e.ip = x.ip AND e.port = x.port)
		ORDER BY x.ip, x.port, x.plugin`, scan)
	if err != nil {
		return nil, fmt.Errorf("exposures not seen by scan %s: %w", scan, err)
	}
	return out, nil
}

// records runs a query of (id, last) rows.
func (s *Store) records(ctx context.Context, q string, args ...any) ([]ajar.Record, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ajar.Record
	for rows.Next() {
		var (
			id int64
			js []byte
		)
		if err := rows.Scan(&id, &js); err != nil {
			return nil, err
		}
		last, err := decodeEvent(js)
		if err != nil {
			return nil, fmt.Errorf("exposure %d: %w", id, err)
		}
		out = append(out, ajar.Record{ID: id, Last: last})
	}
	return out, rows.Err()
}

// normalPrefix masks p and turns an IPv4-mapped prefix into its IPv4 form,
// as addresses are stored.
func normalPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Events returns the events of one key in the order they were recorded,
// oldest first; a key never recorded has none (and no error).
func (s *Store) Events(ctx context.Context, k ajar.Key) ([]ajar.Event, error) {
	if !k.Addr.IsValid() {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT event FROM events WHERE ip = $1 AND port = $2 AND plugin = $3 ORDER BY id`,
		normalAddr(k.Addr), int32(k.Port), k.Plugin)
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
