-- The admin console's "last seen" of a user and "last used" of a token (times as
-- elsewhere, 0: never), written at most once a minute per node (see Store.Seen).
ALTER TABLE users ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
