-- How far each follower of the event log (the alert matcher) has read.
CREATE TABLE cursors (
	name TEXT PRIMARY KEY,
	id   INTEGER NOT NULL
);
