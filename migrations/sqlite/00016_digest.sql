-- Why: same as postgres/00016_digest.sql: a digest that failed to send gives its week's
-- claim back and is retried later, a bounded number of times per week.

-- +goose Up
ALTER TABLE site_settings ADD COLUMN digest_failed_week TEXT NOT NULL DEFAULT '';
ALTER TABLE site_settings ADD COLUMN digest_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE site_settings ADD COLUMN digest_retry_at DATETIME;

-- +goose Down
ALTER TABLE site_settings DROP COLUMN digest_retry_at;
ALTER TABLE site_settings DROP COLUMN digest_failures;
ALTER TABLE site_settings DROP COLUMN digest_failed_week;
