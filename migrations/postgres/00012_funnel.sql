-- Why: a course's funnel and lessons.csv count, for each lesson, the learners with a
-- lesson.completed for it plus those whose imported enrollment says they finished the
-- course (every lesson done) and who have none for it. These two indexes keep that a read
-- of the finished learners and of their own completions, not of every enrollment of the
-- course and every completion of its lessons, on each page view.

-- +goose Up
CREATE INDEX enrollments_imported_done ON enrollments (site_id, course_id, learner_id) WHERE imported_percent >= 100;
CREATE INDEX lesson_completions_learner ON lesson_completions (site_id, learner_id);

-- +goose Down
DROP INDEX lesson_completions_learner;
DROP INDEX enrollments_imported_done;
