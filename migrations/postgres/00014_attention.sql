-- Why: needs attention (its page, the overview's figure, "stuck here" on a course's funnel)
-- reads the unfinished enrollments idle since a cut-off, never all of a site's. The first
-- index holds them by when they went idle (their last activity, or enrolling when there was
-- none); the second holds those without progress or a start by when they enrolled, as the
-- import stamps them with Thinkific's updated_at: not started, they are idle since enrolling.
-- +goose Up
CREATE INDEX enrollments_idle ON enrollments (site_id, (COALESCE(last_activity_at, enrolled_at)), course_id)
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
