-- Why: as postgres/00017_learner_search.sql, trigram indexes for substring searches of
-- learners. SQLite has none; its sites are small (the demo, one developer), and a search
-- reads the course's learners.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
