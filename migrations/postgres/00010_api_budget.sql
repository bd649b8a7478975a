-- Why: Thinkific allows 120 API requests per minute per site and answers 429 beyond. Stride
-- runs several processes (web and worker dynos), each of which may call a site's API (the
-- Webhooks API, the REST import), so the count must be shared: api_requests logs the time of
-- every request sent to a site in the last minute (pruned as requests are taken), and a
-- request is sent only while fewer than the limit lie in the window. api_blocks holds a
-- site's requests back after a 429, until the reset Thinkific named, in every process.

-- +goose Up
CREATE TABLE api_requests (
    site_id  BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_requests_site_at ON api_requests (site_id, at);

CREATE TABLE api_blocks (
    site_id        BIGINT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    blocked_until  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE api_blocks;
DROP TABLE api_requests;
