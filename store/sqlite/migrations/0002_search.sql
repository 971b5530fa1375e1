-- What the query language searches beyond the exposures table: one row of
-- scalar facts per exposure (kept from the latest event that knew them, as
-- exposures does for records and bytes) and the multi-valued terms (data
-- classes, dataset and field names, certificate and host names).

CREATE TABLE search (
	exposure   INTEGER PRIMARY KEY REFERENCES exposures (id),
	product    TEXT,
	version    TEXT,
	provider   TEXT,
	hosting    TEXT,
	asn        INTEGER,
	country    TEXT,
	org        TEXT,
	ransom     INTEGER NOT NULL DEFAULT 0,
	disclosure TEXT NOT NULL DEFAULT 'new'
);

CREATE INDEX search_provider ON search (provider);
CREATE INDEX search_country ON search (country);
CREATE INDEX search_asn ON search (asn);

CREATE TABLE terms (
	exposure INTEGER NOT NULL REFERENCES exposures (id),
	kind     TEXT NOT NULL, -- class, dataset, field, name
	value    TEXT NOT NULL,
	PRIMARY KEY (exposure, kind, value)
) WITHOUT ROWID;

CREATE INDEX terms_value ON terms (kind, value, exposure);
CREATE INDEX exposures_severity ON exposures (severity);
CREATE INDEX exposures_records ON exposures (records);
CREATE INDEX exposures_first_seen ON exposures (first_seen);
