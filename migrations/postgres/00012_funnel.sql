-- Why: a course's funnel and lessons.csv count, for each lesson, the learners with a
-- lesson.completed for it plus those whose imported enrollment says they finished the
-- course (every lesson done) and who have none for it. The first index lists a course's
-- finished learners without reading its other enrollments; the second holds each course's
-- completions by learner, with their lesson, so the finished learners' completions are
-- found in it alone (index-only) instead of in the table. Measured on PostgreSQL 15 with a
-- course of 100 lessons, 20,000 enrollments (2,000 finished) and 46,000 completions: the
-- funnel's read takes 20-45 ms, against 1.7-1.9 s without them.

-- +goose Up
CREATE INDEX enrollments_imported_done ON enrollments (site_id, course_id, learner_id) WHERE imported_percent >= 100;
CREATE INDEX lesson_completions_course_learner ON lesson_completions (site_id, course_id, learner_id, lesson_id);

-- +goose Down
DROP INDEX lesson_completions_course_learner;
DROP INDEX enrollments_imported_done;
