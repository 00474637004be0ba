-- Notes are entries by author: each agent who talked on a call has one entry, which they
-- edit; the notes column of calls is no longer written (its texts move here, authorless).
CREATE TABLE call_notes (
	call_id    TEXT    NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
	author     TEXT    NOT NULL,
	text       BYTEA   NOT NULL,
	created_at BIGINT  NOT NULL,
	updated_at BIGINT  NOT NULL,
	PRIMARY KEY (call_id, author)
);
INSERT INTO call_notes (call_id, author, text, created_at, updated_at)
	SELECT id, '', notes, started_at, started_at FROM calls WHERE length(notes) > 0;
UPDATE calls SET notes = ''::bytea;

-- What a log_activity rule chose (subject, owner of a missed call): the activity is built
-- from the journal when it is delivered.
ALTER TABLE calls ADD COLUMN log_subject BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE calls ADD COLUMN log_owner   TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_remote_number ON calls (remote_number);

-- The outbox: an item's maximum age counts from since (its enqueueing, or an admin's
-- retry); the oldest pending item is found by (state, id); counts are kept as counters.
ALTER TABLE outbox ADD COLUMN since BIGINT  NOT NULL DEFAULT 0;
UPDATE outbox SET since = created_at;
CREATE INDEX outbox_state_id ON outbox (state, id);
INSERT INTO counters (name, value) SELECT 'outbox_pending', COUNT(*) FROM outbox WHERE state = 'pending';
INSERT INTO counters (name, value) SELECT 'outbox_parked', COUNT(*) FROM outbox WHERE state = 'parked';
