-- open_for>30d compares this expression (see the dialect in search.go): the
-- time an exposure is (or was) open, cut to whole seconds as the embedded
-- store cuts it. Every part of it is immutable, so an index can hold it.
CREATE INDEX exposures_open_for ON exposures (date_trunc('second', coalesce(closed_at, last_seen) - first_seen));
