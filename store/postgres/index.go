package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

// searchVersion is the migration that created the search index: a database
// older than it is indexed from its event log when it is migrated.
const searchVersion = 2

// facts are the searchable facts of an event, as the exposure's columns
// product, version, provider, hosting, asn, country, org and ransom keep
// them: nil where the event does not know (a closed event), which keeps what
// the exposure had; the fields the query language folds are folded as it
// folds the values searched for (query.Field.Fold).
func facts(e *ajar.Event) []any {
	var provider, hosting, country, org *string
	var asn *int64
	if a := e.Attribution; a != nil {
		provider, hosting = nullText(strings.ToLower(a.Provider)), nullText(strings.ToLower(a.Hosting))
		country, org = nullText(strings.ToUpper(a.Country)), nullText(a.Org)
		if a.ASN != 0 {
			n := int64(a.ASN)
			asn = &n
		}
	}
	var ransom *bool
	if x := e.Exposure; x != nil {
		r := x.Ransom != nil
		ransom = &r
	}
	return []any{nullText(e.Product), nullText(e.Version), provider, hosting, asn, country, org, ransom}
}

// updateFacts sets the facts ($2…$9, in the order of facts) of exposure $1.
const updateFacts = `UPDATE exposures SET
	product = coalesce($2, product),
	version = coalesce($3, version),
	provider = coalesce($4, provider),
	hosting = coalesce($5, hosting),
	asn = coalesce($6::bigint, asn),
	country = coalesce($7, country),
	org = coalesce($8, org),
	ransom = coalesce($9::boolean, ransom)
	WHERE id = $1`

// queueTerms queues in b what refreshes the terms of exposure id from the
// event e just recorded for it. It is queued only when the event was
// stored, so that a re-delivered event changes nothing.
func queueTerms(b *pgx.Batch, id int64, e *ajar.Event) {
	terms := query.Terms(e)
	if len(terms) == 0 {
		return
	}
	// Kinds present with no values are cleared; the others are replaced.
	// Values that stay are left alone rather than deleted and inserted
	// again, so that rescanning an unchanged exposure writes no terms.
	kinds := make([]string, 0, len(terms))
	var tk, tv []string
	for kind, values := range terms {
		kinds = append(kinds, kind)
		for _, v := range values {
			tk, tv = append(tk, kind), append(tv, pgText(v))
		}
	}
	b.Queue(deleteTerms, id, kinds, tk, tv)
	if len(tv) > 0 {
		b.Queue(insertTerms, id, tk, tv)
	}
}

const (
	deleteTerms = `DELETE FROM terms t WHERE t.exposure = $1 AND t.kind = ANY($2::text[])
		AND (t.kind, t.value) NOT IN (SELECT k, v FROM unnest($3::text[], $4::text[]) AS u (k, v))`
	insertTerms = `INSERT INTO terms (exposure, kind, value)
		SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u (k, v)
		ON CONFLICT DO NOTHING`
)

// queueFixOnClose queues in b what marks exposure id fixed, with a line in
// its audit log, when it was under disclosure (triaged, notified or
// acknowledged) and a closed event at time at was just stored for it.
func queueFixOnClose(b *pgx.Batch, id int64, at time.Time) {
	open := []string{ajar.DisclosureTriaged, ajar.DisclosureNotified, ajar.DisclosureAcknowledged}
	b.Queue(`WITH fixed AS (
			UPDATE exposures SET disclosure = $2 WHERE id = $1 AND disclosure = ANY($3::text[])
			RETURNING id
		)
		INSERT INTO disclosures (exposure, state, changed_by, note, at)
		SELECT id, $2, $4, $5, $6 FROM fixed`,
		id, ajar.DisclosureFixed, open, "ajar", "closed: a scan found it gone or asking for credentials", at)
}

// reindexBatch is how many events reindex reads and indexes per round trip.
const reindexBatch = 500

// reindex sets the facts and terms of every exposure by replaying its
// events oldest first, as Record would have indexed them. It runs in the
// migration's transaction on a database created before the search index.
func reindex(ctx context.Context, tx pgx.Tx) error {
	type stored struct {
		exposure int64
		ev       ajar.Event
	}
	for last := int64(0); ; {
		rows, err := tx.Query(ctx, `SELECT e.id, x.id, e.event FROM events e
			JOIN exposures x ON x.ip = e.ip AND x.port = e.port AND x.plugin = e.plugin
			WHERE e.id > $1 ORDER BY e.id LIMIT $2`, last, reindexBatch)
		if err != nil {
			return fmt.Errorf("index the stored events: %w", err)
		}
		var evs []stored
		for rows.Next() {
			var (
				s  stored
				js []byte
			)
			if err := rows.Scan(&last, &s.exposure, &js); err != nil {
				rows.Close()
				return fmt.Errorf("index the stored events: %w", err)
			}
			if s.ev, err = decodeEvent(js); err != nil {
				rows.Close()
				return fmt.Errorf("index the stored events: event %d: %w", last, err)
			}
			evs = append(evs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("index the stored events: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		var b pgx.Batch
		for i := range evs {
			b.Queue(updateFacts, append([]any{evs[i].exposure}, facts(&evs[i].ev)...)...)
			queueTerms(&b, evs[i].exposure, &evs[i].ev)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("index the stored events up to %d: %w", last, err)
		}
	}
}

// pgText returns s as PostgreSQL text can hold it: text holds neither NUL
// nor invalid UTF-8, which a banner, a table name or a query may carry.
// Each is replaced by U+FFFD, as encoding/json does with invalid UTF-8.
func pgText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// nullText is pgText storing an empty string as NULL.
func nullText(s string) *string { return nullString(pgText(s)) }
