-- What `ajar serve` keeps: API keys (hashes only), the disclosure audit log
-- (the current state is exposures.disclosure), alert rules, the outbox and how
-- far each follower of the event log (the alert matcher) has read.

CREATE TABLE api_keys (
	id      text COLLATE "C" PRIMARY KEY,
	name    text NOT NULL DEFAULT '',
	role    text NOT NULL,
	hash    bytea NOT NULL UNIQUE,
	created timestamptz NOT NULL,
	revoked timestamptz
);

CREATE TABLE disclosures (
	id         bigserial PRIMARY KEY,
	exposure   bigint NOT NULL REFERENCES exposures (id),
	state      text NOT NULL,
	contact    text NOT NULL DEFAULT '',
	channel    text NOT NULL DEFAULT '',
	note       text NOT NULL DEFAULT '',
	changed_by text NOT NULL DEFAULT '', -- a key id, "cli" or "ajar"
	at         timestamptz NOT NULL
);

CREATE INDEX disclosures_exposure ON disclosures (exposure, id);

-- rule is the rule's JSON form without its secret (type json, as events.event).
CREATE TABLE alert_rules (
	id      bigserial PRIMARY KEY,
	rule    json NOT NULL,
	secret  text NOT NULL DEFAULT '',
	created timestamptz NOT NULL
);

-- outbox.rule is not a foreign key, as in the embedded store: the matcher may
-- queue an alert of a rule deleted meanwhile; DeleteRule removes its items.
CREATE TABLE outbox (
	id       bigserial PRIMARY KEY,
	rule     bigint NOT NULL,
	event    bigint NOT NULL,
	change   text NOT NULL,
	payload  bytea NOT NULL,
	attempts integer NOT NULL DEFAULT 0,
	next_try timestamptz NOT NULL,
	last_err text NOT NULL DEFAULT '',
	UNIQUE (rule, event)
);

CREATE INDEX outbox_due ON outbox (next_try, id);

CREATE TABLE cursors (
	name text PRIMARY KEY,
	id   bigint NOT NULL
);
