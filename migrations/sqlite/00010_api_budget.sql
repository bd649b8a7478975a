-- Why: one API rate budget per site across every process; same tables as
-- postgres/00010_api_budget.sql, in SQLite's types (see there for why they exist).

-- +goose Up
CREATE TABLE api_requests (
    site_id  INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    at       DATETIME NOT NULL
);
CREATE INDEX api_requests_site_at ON api_requests (site_id, at);

CREATE TABLE api_blocks (
    site_id        INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    blocked_until  DATETIME NOT NULL
);

-- +goose Down
DROP TABLE api_blocks;
DROP TABLE api_requests;
