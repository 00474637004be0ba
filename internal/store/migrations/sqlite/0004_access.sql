-- Access control (issue 15): disabled users, expiring tokens, and a log of access changes
-- (logout, revoke, password change, disable, remove) that every running node polls to
-- close the matching open streams within a second.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE access_changes (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	kind      TEXT    NOT NULL,
	user_name TEXT    NOT NULL DEFAULT '',
	token_id  INTEGER NOT NULL DEFAULT 0,
	session   TEXT    NOT NULL DEFAULT '',
	at        INTEGER NOT NULL
);
CREATE INDEX access_changes_at ON access_changes (at);
CREATE INDEX call_legs_user ON call_legs (user_name, call_id);
