-- Why: the dashboard; same tables as postgres/00003_rollups.sql, in SQLite's types.
-- Why (as there): the dashboard. Pages read these rollups and indexed queries, never scans of all
-- events; the worker keeps them in the same transaction that applies each event.

-- +goose Up
-- Which learners completed which lesson (once each), and how many per lesson: the funnel.
CREATE TABLE lesson_completions (
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    lesson_id  BIGINT NOT NULL,
    learner_id BIGINT NOT NULL,
    course_id  BIGINT NOT NULL,
    first_at   DATETIME NOT NULL,
    PRIMARY KEY (site_id, lesson_id, learner_id)
);

CREATE TABLE lesson_stats (
    site_id   INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    lesson_id BIGINT NOT NULL,
    course_id BIGINT NOT NULL,
    learners  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, lesson_id)
);
CREATE INDEX lesson_stats_course ON lesson_stats (site_id, course_id);

-- Per site and UTC day: learner steps (lessons completed), course completions, enrollments.
CREATE TABLE daily_stats (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,                    -- YYYY-MM-DD
    steps       BIGINT NOT NULL DEFAULT 0,
    completions BIGINT NOT NULL DEFAULT 0,
    enrollments BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day)
);

-- How many enrollments of a course sit at each whole percentage: histogram and median.
CREATE TABLE progress_buckets (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    bucket      INTEGER NOT NULL,                 -- floor(percent), 0..100
    enrollments BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, course_id, bucket)
);

CREATE INDEX enrollments_site_activity ON enrollments (site_id, last_activity_at);
CREATE INDEX enrollments_course_activity ON enrollments (site_id, course_id, last_activity_at);
CREATE INDEX enrollments_course_percent ON enrollments (site_id, course_id, percent);
CREATE INDEX learner_events_learner_time ON learner_events (site_id, learner_id, occurred_at);

-- +goose Down
DROP INDEX learner_events_learner_time;
DROP INDEX enrollments_course_percent;
DROP INDEX enrollments_course_activity;
DROP INDEX enrollments_site_activity;
DROP TABLE progress_buckets;
DROP TABLE daily_stats;
DROP TABLE lesson_stats;
DROP TABLE lesson_completions;
