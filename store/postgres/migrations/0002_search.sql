-- What the query language searches beyond the columns of 0001, as in the
-- embedded store: scalar facts about each exposure, kept on its row from the
-- latest event that knew them (as protocol, records and bytes are), and the
-- multi-valued terms (data classes, dataset and field names, certificate and
-- host names). A database made before this migration is indexed from its
-- event log when the migration is applied (see reindex).
--
-- The fields the language folds are stored folded (provider and hosting in
-- lower case, country in upper case; query.Field.Fold), so that they compare
-- without a function on the column. The new text columns are COLLATE "C":
-- compared and ordered bytewise, as in SQLite, and a prefix LIKE can use
-- their index, whatever the database's locale. Adding columns with constant
-- defaults does not rewrite the table.

ALTER TABLE exposures
	ADD COLUMN product    text,
	ADD COLUMN version    text,
	ADD COLUMN provider   text COLLATE "C",
	ADD COLUMN hosting    text COLLATE "C",
	ADD COLUMN asn        bigint,
	ADD COLUMN country    text COLLATE "C",
	ADD COLUMN org        text,
	ADD COLUMN ransom     boolean NOT NULL DEFAULT false,
	ADD COLUMN disclosure text COLLATE "C" NOT NULL DEFAULT 'new';

-- status and protocol have (status, ip, port, plugin) and (protocol, ip,
-- port, plugin) from 0001: a page of one status is read in order.
CREATE INDEX exposures_provider ON exposures (provider);
CREATE INDEX exposures_hosting ON exposures (hosting);
CREATE INDEX exposures_country ON exposures (country);
CREATE INDEX exposures_asn ON exposures (asn);
CREATE INDEX exposures_disclosure ON exposures (disclosure);
CREATE INDEX exposures_severity ON exposures (severity);
CREATE INDEX exposures_records ON exposures (records);
CREATE INDEX exposures_bytes ON exposures (bytes);
CREATE INDEX exposures_first_seen ON exposures (first_seen);
CREATE INDEX exposures_last_seen ON exposures (last_seen);

-- Terms are stored lower case (query.Terms) and compared as they are.
CREATE TABLE terms (
	exposure bigint NOT NULL REFERENCES exposures (id),
	kind     text NOT NULL, -- class, dataset, field, name
	value    text COLLATE "C" NOT NULL,
	PRIMARY KEY (exposure, kind, value)
);

CREATE INDEX terms_value ON terms (kind, value, exposure);
