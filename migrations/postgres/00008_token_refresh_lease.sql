-- Why: a token refresh no longer holds a lock on the token row while Thinkific answers (on
-- SQLite that lock was the database's only write lock, and a slow token endpoint made
-- webhooks answer 503). Instead a refresh claims a lease on the row with one committed
-- conditional UPDATE, calls Thinkific outside any transaction, and saves the rotated pair
-- only while its lease is still the row's. reconnect_needed_at records that Thinkific
-- refused the site's refresh token, so the dashboard can ask an admin to install again.

-- +goose Up
ALTER TABLE site_tokens ADD COLUMN refresh_lease_until TIMESTAMPTZ;
ALTER TABLE sites ADD COLUMN reconnect_needed_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE sites DROP COLUMN reconnect_needed_at;
ALTER TABLE site_tokens DROP COLUMN refresh_lease_until;
