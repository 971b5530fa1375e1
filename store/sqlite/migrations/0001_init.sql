-- Scans, the append-only event log and the exposures derived from it.
--
-- Times are INTEGER nanoseconds since the Unix epoch, UTC. Addresses are
-- stored twice: ip, a BLOB that sorts and range-filters correctly (one family
-- byte, 4 or 6, then the 4 or 16 address bytes, so every IPv4 address sorts
-- before every IPv6 one and each family in numeric order, as netip.Addr.Compare
-- and PostgreSQL's inet do), and ip_text, the address as people write it.

CREATE TABLE scans (
	id       TEXT PRIMARY KEY,
	started  INTEGER NOT NULL,
	finished INTEGER,
	args     TEXT NOT NULL DEFAULT ''
);

-- events.scan is not a foreign key: events imported from another machine's
-- output or a cluster worker may name a scan this database never began.
CREATE TABLE events (
	id       INTEGER PRIMARY KEY,
	scan     TEXT,
	time     INTEGER NOT NULL,
	ip       BLOB NOT NULL,
	ip_text  TEXT NOT NULL,
	port     INTEGER NOT NULL,
	plugin   TEXT NOT NULL,
	status   TEXT NOT NULL,
	protocol TEXT NOT NULL,
	json     TEXT NOT NULL
);

CREATE INDEX events_key ON events (ip, port, plugin, id);
CREATE INDEX events_scan ON events (scan);

-- One row per key. protocol, records, bytes and severity keep the latest known
-- value, so a closed exposure still says what it exposed; NULL is unknown.
CREATE TABLE exposures (
	id         INTEGER PRIMARY KEY,
	ip         BLOB NOT NULL,
	ip_text    TEXT NOT NULL,
	port       INTEGER NOT NULL,
	plugin     TEXT NOT NULL,
	status     TEXT NOT NULL,
	protocol   TEXT,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	closed_at  INTEGER,
	records    INTEGER,
	bytes      INTEGER,
	severity   TEXT,
	last_event INTEGER NOT NULL REFERENCES events (id),
	last_json  TEXT NOT NULL,
	UNIQUE (ip, port, plugin)
);

CREATE INDEX exposures_status ON exposures (status, ip, port, plugin);
CREATE INDEX exposures_protocol ON exposures (protocol, ip, port, plugin);
