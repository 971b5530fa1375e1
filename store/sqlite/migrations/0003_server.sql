-- What `ajar serve` keeps: API keys (hashes only), the disclosure audit log
-- (the current state is search.disclosure), alert rules and the outbox.

CREATE TABLE api_keys (
	id      TEXT PRIMARY KEY,
	name    TEXT NOT NULL DEFAULT '',
	role    TEXT NOT NULL,
	hash    BLOB NOT NULL UNIQUE,
	created INTEGER NOT NULL,
	revoked INTEGER
);

CREATE TABLE disclosures (
	id       INTEGER PRIMARY KEY,
	exposure INTEGER NOT NULL REFERENCES exposures (id),
	state    TEXT NOT NULL,
	contact  TEXT NOT NULL DEFAULT '',
	channel  TEXT NOT NULL DEFAULT '',
	note     TEXT NOT NULL DEFAULT '',
	by       TEXT NOT NULL DEFAULT '',
	at       INTEGER NOT NULL
);

CREATE INDEX disclosures_exposure ON disclosures (exposure, id);

CREATE TABLE alert_rules (
	id      INTEGER PRIMARY KEY,
	json    TEXT NOT NULL,
	secret  TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
);

CREATE TABLE outbox (
	id       INTEGER PRIMARY KEY,
	rule     INTEGER NOT NULL,
	event    INTEGER NOT NULL,
	change   TEXT NOT NULL,
	payload  BLOB NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_try INTEGER NOT NULL,
	last_err TEXT NOT NULL DEFAULT '',
	UNIQUE (rule, event)
);

CREATE INDEX outbox_due ON outbox (next_try);
