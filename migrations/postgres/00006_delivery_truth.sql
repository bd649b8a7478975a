-- Why: nothing acknowledged may be lost, and the delivery log must stay small under replays.
-- A repeated delivery of an event already stored is counted on its inbox row instead of
-- adding a row each (a replayed capture added one row per request). Signed deliveries that
-- name no installed site — a delivery racing a reinstall, an event whose signed site is not
-- the one its unsigned header names — are held in inbox_unrouted instead of being answered
-- 200 and dropped; the worker moves them into a site's inbox once that site is installed.

-- +goose Up
ALTER TABLE inbox ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_duplicate_at TIMESTAMPTZ;
UPDATE inbox SET duplicates = d.n, last_duplicate_at = d.last
FROM (SELECT site_id, event_id, COUNT(*) AS n, MAX(received_at) AS last FROM inbox_duplicates GROUP BY site_id, event_id) d
WHERE inbox.site_id = d.site_id AND inbox.event_id = d.event_id;
DROP TABLE inbox_duplicates;

CREATE TABLE inbox_unrouted (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    route_key   TEXT NOT NULL,            -- 'gid:<tenant_global_id>' when signed, else 'subdomain:<header>'
    event_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    body        BYTEA NOT NULL,
    status      TEXT NOT NULL,            -- the inbox status it takes when adopted
    reason      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    UNIQUE (route_key, event_id)
);
CREATE INDEX inbox_unrouted_received ON inbox_unrouted (received_at);

-- +goose Down
DROP TABLE inbox_unrouted;
CREATE TABLE inbox_duplicates (
    site_id     BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_duplicates_site_log ON inbox_duplicates (site_id, received_at);
ALTER TABLE inbox DROP COLUMN last_duplicate_at;
ALTER TABLE inbox DROP COLUMN duplicates;
