-- Statistics: a covering index for a range of the journal (a month's figures read the
-- index only), and the callbacks of missed calls found by number.
CREATE INDEX calls_stats ON calls (started_at, id, direction, missed, answered_at, ended_at, did, answered_by, remote_number);
CREATE INDEX calls_remote ON calls (remote_number, started_at, direction, answered_at);

-- The audit log: every admin action, who, when, what, from where.
CREATE TABLE audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL,
	actor  TEXT    NOT NULL,
	action TEXT    NOT NULL,
	target TEXT    NOT NULL DEFAULT '',
	detail TEXT    NOT NULL DEFAULT '',
	remote TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);
