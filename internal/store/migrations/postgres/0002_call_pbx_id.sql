-- Calls get Ringside's own id (calls.id); the phone system's id moves to pbx_id.
-- Entries journaled before keep their id, which was the phone system's.
ALTER TABLE calls ADD COLUMN pbx_id TEXT NOT NULL DEFAULT '';
UPDATE calls SET pbx_id = id;
CREATE INDEX calls_pbx_id ON calls (pbx_id, source);
CREATE INDEX calls_open ON calls (state) WHERE state <> 'ended';
