-- Why: same as postgres/00007_webhook_lease.sql: one reconcile of a site's webhooks at a
-- time (the background registration after an install, or the sweep), claimed with one
-- conditional UPDATE.

-- +goose Up
ALTER TABLE sites ADD COLUMN webhooks_lease_until DATETIME;

-- +goose Down
ALTER TABLE sites DROP COLUMN webhooks_lease_until;
