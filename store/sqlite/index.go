package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

// index refreshes the search row and terms of an exposure from the event
// just recorded. An event that knows nothing new (a closed event) keeps
// what the exposure had.
func index(ctx context.Context, tx *sql.Tx, id int64, e *ajar.Event) error {
	var provider, hosting, country, org any
	var asn any
	if a := e.Attribution; a != nil {
		provider, hosting, country, org = nullString(a.Provider), nullString(a.Hosting), nullString(a.Country), nullString(a.Org)
		if a.ASN != 0 {
			asn = int64(a.ASN)
		}
	}
	var ransom any
	if x := e.Exposure; x != nil {
		ransom = 0
		if x.Ransom != nil {
			ransom = 1
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO search (exposure, product, version, provider, hosting, asn, country, org, ransom)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, 0))
		ON CONFLICT (exposure) DO UPDATE SET
			product = coalesce(excluded.product, product),
			version = coalesce(excluded.version, version),
			provider = coalesce(excluded.provider, provider),
			hosting = coalesce(excluded.hosting, hosting),
			asn = coalesce(excluded.asn, asn),
			country = coalesce(excluded.country, country),
			org = coalesce(excluded.org, org),
			ransom = CASE WHEN ? IS NULL THEN ransom ELSE excluded.ransom END`,
		id, nullString(e.Product), nullString(e.Version), provider, hosting, asn, country, org, ransom, ransom); err != nil {
		return fmt.Errorf("index exposure: %w", err)
	}
	terms := query.Terms(e)
	if len(terms) == 0 {
		return nil
	}
	for kind := range terms {
		if _, err := tx.ExecContext(ctx, `DELETE FROM terms WHERE exposure = ? AND kind = ?`, id, kind); err != nil {
			return fmt.Errorf("index exposure: %w", err)
		}
	}
	for kind, values := range terms {
		for _, v := range values {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO terms (exposure, kind, value) VALUES (?, ?, ?)`, id, kind, v); err != nil {
				return fmt.Errorf("index exposure: %w", err)
			}
		}
	}
	return nil
}
