-- Why: a pending install (OAuth state, PKCE verifier, site, expiry) now lives only in the
-- browser's signed and encrypted install cookie, so an anonymous GET /install writes nothing.
-- Single use still holds: Thinkific redeems an authorization code once.

-- +goose Up
DROP TABLE oauth_states;

-- +goose Down
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY,
    subdomain      TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    verifier       BYTEA NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
