-- Why: as postgres/00018_next_lesson.sql: each enrollment keeps its next lesson and whether
-- its learner completed any lesson of the course, kept by the worker.

-- +goose Up
ALTER TABLE enrollments ADD COLUMN has_lesson BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE enrollments ADD COLUMN next_lesson_id INTEGER;
UPDATE enrollments SET
    has_lesson = EXISTS (SELECT 1 FROM lesson_completions lc
        WHERE lc.site_id = enrollments.site_id AND lc.course_id = enrollments.course_id AND lc.learner_id = enrollments.learner_id),
    next_lesson_id = (SELECT nl.id FROM lessons nl WHERE nl.site_id = enrollments.site_id AND nl.course_id = enrollments.course_id
        AND nl.course_position IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lesson_completions c
            WHERE c.site_id = nl.site_id AND c.lesson_id = nl.id AND c.learner_id = enrollments.learner_id)
        ORDER BY nl.course_position LIMIT 1);

-- +goose Down
ALTER TABLE enrollments DROP COLUMN next_lesson_id;
ALTER TABLE enrollments DROP COLUMN has_lesson;
