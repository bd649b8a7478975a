-- Why (as there): a repeated delivery is counted on its inbox row instead of adding a row
-- each; signed deliveries that name no installed site are held in inbox_unrouted instead of
-- being dropped, and moved into a site's inbox once that site is installed.

-- +goose Up
ALTER TABLE inbox ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_duplicate_at DATETIME;
UPDATE inbox SET
    duplicates = (SELECT COUNT(*) FROM inbox_duplicates d WHERE d.site_id = inbox.site_id AND d.event_id = inbox.event_id),
    last_duplicate_at = (SELECT MAX(received_at) FROM inbox_duplicates d WHERE d.site_id = inbox.site_id AND d.event_id = inbox.event_id);
DROP TABLE inbox_duplicates;

CREATE TABLE inbox_unrouted (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    route_key   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    body        BLOB NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at DATETIME NOT NULL,
    UNIQUE (route_key, event_id)
);
CREATE INDEX inbox_unrouted_received ON inbox_unrouted (received_at);

-- +goose Down
DROP TABLE inbox_unrouted;
CREATE TABLE inbox_duplicates (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    received_at DATETIME NOT NULL
);
CREATE INDEX inbox_duplicates_site_log ON inbox_duplicates (site_id, received_at);
ALTER TABLE inbox DROP COLUMN last_duplicate_at;
ALTER TABLE inbox DROP COLUMN duplicates;
