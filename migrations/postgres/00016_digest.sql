-- Why: a digest that could not be sent (the mail server refused or was down) gives its
-- week's claim back and is tried again later, a bounded number of times per week; these
-- say which week failed, how often, and when the next try may start, for every process.

-- +goose Up
ALTER TABLE site_settings ADD COLUMN digest_failed_week TEXT NOT NULL DEFAULT '';
ALTER TABLE site_settings ADD COLUMN digest_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE site_settings ADD COLUMN digest_retry_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE site_settings DROP COLUMN digest_retry_at;
ALTER TABLE site_settings DROP COLUMN digest_failures;
ALTER TABLE site_settings DROP COLUMN digest_failed_week;
