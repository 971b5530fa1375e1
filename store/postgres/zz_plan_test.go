package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/query"
	"github.com/jackc/pgx/v5"
)

func TestZZPlans(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	_, err := s.pool.Exec(ctx, `
INSERT INTO events (time, ip, port, plugin, status, protocol, event)
SELECT now(), ('10.0.0.0'::inet + g), 6379, 'redis', 'exposed', 'redis', '{}'::json FROM generate_series(1, 200000) g;
INSERT INTO exposures (ip, port, plugin, status, protocol, first_seen, last_seen, records, bytes, severity, last_event, last,
  provider, country, asn, hosting)
SELECT ip, port, plugin, (ARRAY['exposed','open','protected','closed','wiped'])[1 + id % 5], (ARRAY['redis','mysql','elasticsearch','mongodb','kibana','http','ftp','ssh'])[1 + id % 8],
  now() - (id || ' minutes')::interval, now(), id % 100000, id * 10, 'high', id, '{}'::json,
  (ARRAY['alibaba','aws','hetzner','ovh','gcp','azure','tencent','do'])[1 + id % 8] || (id % 50), (ARRAY['CN','US','DE','FR'])[1 + id % 4] || (id%30), id % 5000, 'unknown'
FROM events;
INSERT INTO terms SELECT id, 'class', 'c' || (id % 300) FROM exposures;
INSERT INTO terms SELECT id, 'dataset', 'd' || (id % 5000) FROM exposures;
ANALYZE;`)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`status:wiped`, `protocol:kibana`, `provider:alibaba3`, `provider:ali*`, `country:CN3`, `asn:37`, `first_seen>-3d`, `records>99990`, `class:c7`, `dataset:d12*`, `ip:10.0.1.0/24`, `d123`} {
		c, err := query.Compile(mustParse(q), dialect, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{"SELECT count(*)" + from + " WHERE " + c.Where,
			"SELECT e.id" + from + " WHERE " + c.Where + " ORDER BY e.ip, e.port, e.plugin LIMIT 51"} {
			rows, err := s.pool.Query(ctx, "EXPLAIN ANALYZE "+sql, c.Args...)
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for rows.Next() {
				var l string
				rows.Scan(&l)
				out += l + "\n"
			}
			rows.Close()
			fmt.Printf("== %s\n%s\n", q, out)
		}
	}
	for _, f := range []string{"provider", "class", "port"} {
		start := time.Now()
		c, _ := query.Compile(nil, dialect, time.Now())
		if _, err := facet(ctx, mustTx(t, s), f, c); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("facet %s: %v\n", f, time.Since(start))
	}
}

func mustParse(q string) query.Node { n, _ := query.Parse(q); return n }

func mustTx(t *testing.T, s *Store) pgx.Tx { tx, err := s.pool.Begin(context.Background()); if err != nil { t.Fatal(err) }; return tx }
