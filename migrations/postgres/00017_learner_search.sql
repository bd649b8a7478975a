-- Why: the course and needs-attention lists search learners by any part of their email or
-- name (LIKE '%text%'), which no b-tree index serves: on a site of 50,000 learners every
-- search read them all. Trigram indexes (pg_trgm, shipped with PostgreSQL and allowed on
-- Heroku Postgres) answer a substring search from the index. The expressions are the
-- search's own, so the planner can use them.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX learners_email_trgm ON learners USING gin (LOWER(email) gin_trgm_ops);
CREATE INDEX learners_name_trgm ON learners USING gin (LOWER(first_name || ' ' || last_name) gin_trgm_ops);

-- +goose Down
DROP INDEX learners_name_trgm;
DROP INDEX learners_email_trgm;
