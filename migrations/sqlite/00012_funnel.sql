-- Why: same as postgres/00012_funnel.sql: the funnel's and lessons.csv's count of learners
-- who finished a course by its import reads indexes, not every enrollment and completion.

-- +goose Up
CREATE INDEX enrollments_imported_done ON enrollments (site_id, course_id, learner_id) WHERE imported_percent >= 100;
CREATE INDEX lesson_completions_course_learner ON lesson_completions (site_id, course_id, learner_id, lesson_id);

-- +goose Down
DROP INDEX lesson_completions_course_learner;
DROP INDEX enrollments_imported_done;
