package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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
		// Folded as the query language folds search terms (Unicode-aware).
		provider, hosting = nullString(strings.ToLower(a.Provider)), nullString(strings.ToLower(a.Hosting))
		country, org = nullString(strings.ToUpper(a.Country)), nullString(a.Org)
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
	if _, err := tx.ExecContext(ctx, `UPDATE exposures SET
			product = coalesce(?, product),
			version = coalesce(?, version),
			provider = coalesce(?, provider),
			hosting = coalesce(?, hosting),
			asn = coalesce(?, asn),
			country = coalesce(?, country),
			org = coalesce(?, org),
			ransom = coalesce(?, ransom)
		WHERE id = ?`,
		nullString(e.Product), nullString(e.Version), provider, hosting, asn, country, org, ransom, id); err != nil {
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
