-- Why: measured on the webhook path. A foreign key to sites makes every inbox insert and
-- every applied event take a KEY SHARE lock on its site's row, and the group commit, the
-- workers and the rare site update then queue on that one row. Sites are never deleted (an
-- uninstalled site's data is purged table by table, see store.PurgeUninstalled), so these
-- high-volume tables keep site_id without the constraint; the low-volume ones keep theirs.

-- Rows that are updated in place after their insert (pairing links both halves, the worker
-- moves enrollments forward) get room on their page, so PostgreSQL can update them without
-- touching every index (a HOT update).

-- +goose Up
ALTER TABLE learner_events SET (fillfactor = 80);
ALTER TABLE enrollments SET (fillfactor = 80);
ALTER TABLE inbox DROP CONSTRAINT inbox_site_id_fkey;
ALTER TABLE inbox_duplicates DROP CONSTRAINT inbox_duplicates_site_id_fkey;
ALTER TABLE learner_events DROP CONSTRAINT learner_events_site_id_fkey;
ALTER TABLE enrollments DROP CONSTRAINT enrollments_site_id_fkey;
ALTER TABLE learners DROP CONSTRAINT learners_site_id_fkey;
ALTER TABLE courses DROP CONSTRAINT courses_site_id_fkey;
ALTER TABLE chapters DROP CONSTRAINT chapters_site_id_fkey;
ALTER TABLE lessons DROP CONSTRAINT lessons_site_id_fkey;
ALTER TABLE lesson_completions DROP CONSTRAINT lesson_completions_site_id_fkey;
ALTER TABLE lesson_stats DROP CONSTRAINT lesson_stats_site_id_fkey;
ALTER TABLE daily_stats DROP CONSTRAINT daily_stats_site_id_fkey;
ALTER TABLE progress_buckets DROP CONSTRAINT progress_buckets_site_id_fkey;

-- +goose Down
ALTER TABLE learner_events RESET (fillfactor);
ALTER TABLE enrollments RESET (fillfactor);
ALTER TABLE inbox ADD CONSTRAINT inbox_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE inbox_duplicates ADD CONSTRAINT inbox_duplicates_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE learner_events ADD CONSTRAINT learner_events_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE enrollments ADD CONSTRAINT enrollments_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE learners ADD CONSTRAINT learners_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE courses ADD CONSTRAINT courses_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE chapters ADD CONSTRAINT chapters_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE lessons ADD CONSTRAINT lessons_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE lesson_completions ADD CONSTRAINT lesson_completions_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE lesson_stats ADD CONSTRAINT lesson_stats_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE daily_stats ADD CONSTRAINT daily_stats_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
ALTER TABLE progress_buckets ADD CONSTRAINT progress_buckets_site_id_fkey FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
