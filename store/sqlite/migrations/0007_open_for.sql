-- open_for>30d compares this expression (see the dialect in search.go); an
-- index on the same expression serves it.
CREATE INDEX exposures_open_for ON exposures (((coalesce(closed_at, last_seen) - first_seen) / 1000000000));
