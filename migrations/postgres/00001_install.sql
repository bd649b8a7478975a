-- Why: the install slice. A site is one Thinkific tenant; its tokens live apart so that a
-- refresh can lock them without blocking reads of the site, and so uninstall can delete them.

-- +goose Up
CREATE TABLE sites (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subdomain              TEXT UNIQUE,            -- NULL once another tenant claims the name
    gid                    TEXT NOT NULL UNIQUE,   -- Thinkific's global id: never changes
    scopes                 TEXT NOT NULL DEFAULT '',
    installed_at           TIMESTAMPTZ NOT NULL,
    uninstalled_at         TIMESTAMPTZ,
    webhooks_due_at        TIMESTAMPTZ NOT NULL,   -- when the sweep next reconciles webhooks
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);

-- Sealed with AES-GCM (see app/secret); key_id names the key, so SECRET_KEY can rotate.
CREATE TABLE site_tokens (
    site_id        BIGINT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    key_id         TEXT NOT NULL,
    access_token   BYTEA NOT NULL,
    refresh_token  BYTEA NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- One pending install: single use, short lived, bound to the browser that started it.
-- The state itself is never stored, only its hash.
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY,
    subdomain      TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    verifier       BYTEA NOT NULL,                 -- the PKCE verifier, sealed
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);

-- What Stride registered on each site through the Webhooks API, one row per topic.
CREATE TABLE site_webhooks (
    site_id        BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    topic          TEXT NOT NULL,
    external_id    TEXT NOT NULL DEFAULT '',
    target_url     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    last_error     TEXT NOT NULL DEFAULT '',
    checked_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, topic)
);

-- What happened to a site's installation, for support and for the admin.
CREATE TABLE audit_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id        BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_site ON audit_events (site_id, created_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE site_webhooks;
DROP TABLE oauth_states;
DROP TABLE site_tokens;
DROP TABLE sites;
