-- Why: a site's admin sets how Stride reads its learners (the idle days that make one
-- stalled), the zone its pages show times in, and the weekly digest: who gets it and when.
-- digest_sent_week claims a week's digest, so that several worker processes send it once.

-- +goose Up
CREATE TABLE site_settings (
    site_id            BIGINT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    stalled_days       INTEGER NOT NULL DEFAULT 15,
    time_zone          TEXT NOT NULL DEFAULT '',   -- IANA name; '' = the admin's browser zone
    digest_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    digest_recipients  TEXT NOT NULL DEFAULT '',   -- addresses, one per line
    digest_weekday     INTEGER NOT NULL DEFAULT 1, -- 0 = Sunday .. 6 = Saturday, in time_zone
    digest_hour        INTEGER NOT NULL DEFAULT 8, -- 0..23, in time_zone
    digest_sent_week   TEXT NOT NULL DEFAULT '',   -- the week last sent, ISO 'YYYY-Www'
    digest_sent_at     TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE site_settings;
