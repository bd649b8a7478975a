-- Why: same as postgres/00014_attention.sql: needs attention and "stuck here" read the
-- unfinished enrollments idle since a cut-off from these indexes, never all of a site's.

-- +goose Up
CREATE INDEX enrollments_idle ON enrollments (site_id, COALESCE(last_activity_at, enrolled_at), course_id)
    WHERE completed_at IS NULL AND percent < 100;
CREATE INDEX enrollments_unstarted ON enrollments (site_id, enrolled_at, course_id)
    WHERE completed_at IS NULL AND percent = 0 AND started_at IS NULL;
-- A learner's next lesson is the first of the curriculum they have not completed: read in
-- course order, it stops there.
CREATE INDEX lessons_curriculum ON lessons (site_id, course_id, course_position) WHERE course_position IS NOT NULL;

-- +goose Down
DROP INDEX lessons_curriculum;
DROP INDEX enrollments_unstarted;
DROP INDEX enrollments_idle;
