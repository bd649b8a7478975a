-- Why: the install slice; same tables as postgres/00001_install.sql, in SQLite's types.
-- Times are DATETIME so the driver reads them back as times; Stride writes them in UTC.

-- +goose Up
CREATE TABLE sites (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    subdomain              TEXT UNIQUE,
    gid                    TEXT NOT NULL UNIQUE,
    scopes                 TEXT NOT NULL DEFAULT '',
    installed_at           DATETIME NOT NULL,
    uninstalled_at         DATETIME,
    webhooks_due_at        DATETIME NOT NULL,
    created_at             DATETIME NOT NULL,
    updated_at             DATETIME NOT NULL
);

CREATE TABLE site_tokens (
    site_id        INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    key_id         TEXT NOT NULL,
    access_token   BLOB NOT NULL,
    refresh_token  BLOB NOT NULL,
    expires_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);

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

CREATE TABLE site_webhooks (
    site_id        INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    topic          TEXT NOT NULL,
    external_id    TEXT NOT NULL DEFAULT '',
    target_url     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    last_error     TEXT NOT NULL DEFAULT '',
    checked_at     DATETIME NOT NULL,
    PRIMARY KEY (site_id, topic)
);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id        INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     DATETIME NOT NULL
);
CREATE INDEX audit_events_site ON audit_events (site_id, created_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE site_webhooks;
DROP TABLE oauth_states;
DROP TABLE site_tokens;
DROP TABLE sites;
