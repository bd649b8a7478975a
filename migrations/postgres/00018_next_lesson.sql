-- Why: needs attention, "stuck here" and every learner list show an enrollment's next
-- lesson (the first of the curriculum its learner has not completed) and whether the
-- learner completed any lesson of the course (not started is "no progress and no lesson
-- yet"). Reading both from the learner's completions took every completion of the listed
-- learners: 80–170 ms for a course of 5,000 stalled learners. The worker now keeps them on
-- the enrollment as it writes completions and enrollments, and a curriculum re-read
-- recounts its course's; here they are counted once for the enrollments already stored.
-- +goose Up
ALTER TABLE enrollments ADD COLUMN has_lesson boolean NOT NULL DEFAULT false, ADD COLUMN next_lesson_id bigint;
UPDATE enrollments e SET
    has_lesson = EXISTS (SELECT 1 FROM lesson_completions lc
        WHERE lc.site_id = e.site_id AND lc.course_id = e.course_id AND lc.learner_id = e.learner_id),
    next_lesson_id = (SELECT nl.id FROM lessons nl WHERE nl.site_id = e.site_id AND nl.course_id = e.course_id
        AND nl.course_position IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lesson_completions c
            WHERE c.site_id = nl.site_id AND c.lesson_id = nl.id AND c.learner_id = e.learner_id)
        ORDER BY nl.course_position LIMIT 1);

-- +goose Down
ALTER TABLE enrollments DROP COLUMN next_lesson_id, DROP COLUMN has_lesson;
