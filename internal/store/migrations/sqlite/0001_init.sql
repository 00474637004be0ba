-- Users, their extensions, settings and remembered picks.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT    NOT NULL UNIQUE,
	email         TEXT    NOT NULL DEFAULT '',
	admin         INTEGER NOT NULL DEFAULT 0,
	password_hash BLOB    NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE TABLE user_extensions (
	user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	extension TEXT    NOT NULL,
	PRIMARY KEY (user_id, extension)
);
CREATE INDEX user_extensions_extension ON user_extensions (extension);
CREATE TABLE user_settings (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	key     TEXT    NOT NULL,
	value   TEXT    NOT NULL,
	PRIMARY KEY (user_id, key)
);
CREATE TABLE picks (
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	number     TEXT    NOT NULL,
	entity     TEXT    NOT NULL,
	record_id  TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, number)
);

-- API tokens and browser sessions: only SHA-256 hashes of the secrets are stored.
CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
	scope      TEXT    NOT NULL,
	name       TEXT    NOT NULL DEFAULT '',
	hash       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
	hash       TEXT    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- The call journal. Remote raw/name are kept as bytes: callers set them to anything.
CREATE TABLE calls (
	id               TEXT    PRIMARY KEY,
	source           TEXT    NOT NULL DEFAULT '',
	direction        TEXT    NOT NULL DEFAULT '',
	state            TEXT    NOT NULL DEFAULT '',
	remote_raw       BLOB    NOT NULL,
	remote_number    TEXT    NOT NULL DEFAULT '',
	remote_name      BLOB    NOT NULL,
	did              TEXT    NOT NULL DEFAULT '',
	started_at       INTEGER NOT NULL DEFAULT 0,
	answered_at      INTEGER NOT NULL DEFAULT 0,
	ended_at         INTEGER NOT NULL DEFAULT 0,
	answered_by      TEXT    NOT NULL DEFAULT '',
	cause            TEXT    NOT NULL DEFAULT '',
	missed           INTEGER NOT NULL DEFAULT 0,
	call_json        BLOB    NOT NULL,
	matches_json     BLOB    NOT NULL,
	regarding_entity TEXT    NOT NULL DEFAULT '',
	regarding_id     TEXT    NOT NULL DEFAULT '',
	regarding_name   BLOB    NOT NULL DEFAULT x'',
	notes            BLOB    NOT NULL DEFAULT x'',
	activity_key     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX calls_started ON calls (started_at, id);
CREATE INDEX calls_missed ON calls (missed, started_at);
CREATE TABLE call_legs (
	call_id   TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
	extension TEXT NOT NULL,
	user_name TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (call_id, extension, user_name)
);
CREATE INDEX call_legs_extension ON call_legs (extension, call_id);

-- The outbox: durable work (CRM writes, webhooks), delivered in order per group.
CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	kind          TEXT    NOT NULL,
	key           TEXT    NOT NULL DEFAULT '',
	grp           TEXT    NOT NULL DEFAULT '',
	payload       BLOB    NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_at       INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL DEFAULT 'pending',
	created_at    INTEGER NOT NULL,
	claimed_by    TEXT    NOT NULL DEFAULT '',
	claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE INDEX outbox_group ON outbox (grp, id) WHERE state <> 'done';

-- Generic state and index rows for CRM adapters that keep a local phone index.
CREATE TABLE adapter_state (
	scope TEXT NOT NULL,
	key   TEXT NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE TABLE index_rows (
	scope TEXT NOT NULL,
	key   TEXT NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (scope, key)
);

-- The built-in CRM directory. Text that people type is kept as bytes, exactly.
CREATE TABLE dir_records (
	id         TEXT    PRIMARY KEY,
	entity     TEXT    NOT NULL,
	name       BLOB    NOT NULL,
	first_name BLOB    NOT NULL,
	last_name  BLOB    NOT NULL,
	company    BLOB    NOT NULL,
	email      BLOB    NOT NULL,
	country    TEXT    NOT NULL DEFAULT '',
	account_id TEXT    NOT NULL DEFAULT '',
	phones     BLOB    NOT NULL,
	seq        INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX dir_records_seq ON dir_records (seq);
CREATE TABLE dir_activities (
	key              TEXT    PRIMARY KEY,
	call_id          TEXT    NOT NULL DEFAULT '',
	regarding_entity TEXT    NOT NULL DEFAULT '',
	regarding_id     TEXT    NOT NULL DEFAULT '',
	data             BLOB    NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
CREATE INDEX dir_activities_call ON dir_activities (call_id);
CREATE INDEX dir_activities_regarding ON dir_activities (regarding_entity, regarding_id);
-- One row per sequence; UPDATE … RETURNING hands out values in commit order.
CREATE TABLE counters (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('dir_records', 0);
