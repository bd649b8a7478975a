-- Why: same as postgres/00008_token_refresh_lease.sql. On SQLite above all: a refresh must
-- not hold the write lock while Thinkific answers, so it claims a lease on the token row
-- instead; and a site whose refresh token Thinkific refused is marked for reconnection.

-- +goose Up
ALTER TABLE site_tokens ADD COLUMN refresh_lease_until DATETIME;
ALTER TABLE sites ADD COLUMN reconnect_needed_at DATETIME;

-- +goose Down
ALTER TABLE sites DROP COLUMN reconnect_needed_at;
ALTER TABLE site_tokens DROP COLUMN refresh_lease_until;
