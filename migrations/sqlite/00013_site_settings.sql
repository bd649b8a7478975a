-- Why: same as postgres/00013_site_settings.sql: a site's stalled threshold, time zone and weekly
-- digest, with the week last sent claimed once across worker processes.

-- +goose Up
CREATE TABLE site_settings (
    site_id            INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    stalled_days       INTEGER NOT NULL DEFAULT 15,
    time_zone          TEXT NOT NULL DEFAULT '',   -- IANA name; '' = the admin's browser zone
    digest_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    digest_recipients  TEXT NOT NULL DEFAULT '',   -- addresses, one per line
    digest_weekday     INTEGER NOT NULL DEFAULT 1, -- 0 = Sunday .. 6 = Saturday, in time_zone
    digest_hour        INTEGER NOT NULL DEFAULT 8, -- 0..23, in time_zone
    digest_sent_week   TEXT NOT NULL DEFAULT '',   -- the week last sent, ISO 'YYYY-Www'
    digest_sent_at     DATETIME,
    updated_at         DATETIME NOT NULL
);

-- +goose Down
DROP TABLE site_settings;
