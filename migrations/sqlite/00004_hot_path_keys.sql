-- Why: postgres/00004_hot_path_keys.sql drops the site foreign keys of the high-volume
-- tables, for lock contention between processes. SQLite has one process and one writer, and
-- dropping a constraint there means rebuilding the table: it keeps them. Same version, so
-- both folders stay in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
