-- Why: single-use launch links; same table as postgres/00100_launch_uses.sql, in SQLite's
-- types (see there for why it exists).

-- +goose Up
CREATE TABLE launch_uses (
    mac_hash    TEXT PRIMARY KEY,
    expires_at  DATETIME NOT NULL
);
CREATE INDEX launch_uses_expires_at ON launch_uses (expires_at);

-- +goose Down
DROP TABLE launch_uses;
