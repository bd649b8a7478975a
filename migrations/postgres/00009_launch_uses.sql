-- Why: a signed launch link from the Thinkific admin must start one session, once. Without a
-- record of used links, a link seen in a proxy log, a Referer or over a shoulder opened the
-- dashboard again for its five minutes. The primary key makes a second use fail in every
-- process at once; rows are deleted once their link would have expired anyway. Only a hash
-- of the link's MAC is kept. Numbered 100 to stay clear of migrations written at the same
-- time on other branches.

-- +goose Up
CREATE TABLE launch_uses (
    mac_hash    TEXT PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX launch_uses_expires_at ON launch_uses (expires_at);

-- +goose Down
DROP TABLE launch_uses;
