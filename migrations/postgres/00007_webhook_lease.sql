-- Why: webhooks are registered in the background after an install, while the minute sweep
-- also reconciles sites. Two reconciles of one site at once create two webhooks per topic,
-- so whoever reconciles a site first holds its lease: claimed with one conditional UPDATE,
-- which holds across every process sharing the database, and lapsing on its own if the
-- holder dies.

-- +goose Up
ALTER TABLE sites ADD COLUMN webhooks_lease_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE sites DROP COLUMN webhooks_lease_until;
