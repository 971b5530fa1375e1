-- Scans, the append-only event log and the exposures derived from it.
--
-- Addresses are inet: it sorts every IPv4 address before every IPv6 one and
-- each family numerically, as netip.Addr.Compare does, and <<= answers prefix
-- filters from an index. Plugin names sort bytewise (COLLATE "C"), as in the
-- embedded store, whatever the database's locale.
--
-- The time columns are for queries and indexes; they keep microseconds. The
-- event itself is stored whole as its ajar/1 JSON (type json, not jsonb: a
-- banner may hold \u0000, which jsonb refuses), which keeps nanoseconds.

CREATE TABLE scans (
	id       text PRIMARY KEY,
	started  timestamptz NOT NULL,
	finished timestamptz,
	args     text NOT NULL DEFAULT ''
);

-- events.scan is not a foreign key: a cluster worker may record an event of a
-- scan before the coordinator's BeginScan is visible, and imported events may
-- name a scan this database never began.
--
-- dedupe is the deterministic id of an observation recorded through
-- RecordOnce (NULL otherwise; NULLs never conflict): a re-delivered shard
-- stores each of its observations once.
CREATE TABLE events (
	id       bigserial PRIMARY KEY,
	dedupe   bytea UNIQUE,
	scan     text,
	time     timestamptz NOT NULL,
	ip       inet NOT NULL,
	port     integer NOT NULL,
	plugin   text COLLATE "C" NOT NULL,
	status   text NOT NULL,
	protocol text NOT NULL,
	event    json NOT NULL
);

CREATE INDEX events_key ON events (ip, port, plugin, id);
-- The closing pass asks which ports a scan saw.
CREATE INDEX events_scan ON events (scan, ip, port);

-- One row per key. protocol, records, bytes and severity keep the latest known
-- value, so a closed exposure still says what it exposed; NULL is unknown.
CREATE TABLE exposures (
	id         bigserial PRIMARY KEY,
	ip         inet NOT NULL,
	port       integer NOT NULL,
	plugin     text COLLATE "C" NOT NULL,
	status     text NOT NULL,
	protocol   text,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	closed_at  timestamptz,
	records    bigint,
	bytes      bigint,
	severity   text,
	last_event bigint NOT NULL REFERENCES events (id),
	last       json NOT NULL,
	UNIQUE (ip, port, plugin)
);

CREATE INDEX exposures_status ON exposures (status, ip, port, plugin);
CREATE INDEX exposures_protocol ON exposures (protocol, ip, port, plugin);
