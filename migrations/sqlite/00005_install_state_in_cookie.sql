-- Why: same as postgres/00005_install_state_in_cookie.sql: pending installs live in the
-- browser's sealed cookie, so GET /install writes nothing and the table goes.

-- +goose Up
DROP TABLE oauth_states;

-- +goose Down
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY,
    subdomain      TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    verifier       BLOB NOT NULL,
    expires_at     DATETIME NOT NULL,
    used_at        DATETIME,
    created_at     DATETIME NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
