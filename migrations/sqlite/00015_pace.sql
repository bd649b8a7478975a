-- Why: same as postgres/00015_pace.sql: a course's events by course for its pace and
-- cohorts, its finished enrollments, and the per-course rollups pages read.

-- +goose Up
CREATE INDEX learner_events_course ON learner_events (site_id, course_id, id);
CREATE INDEX enrollments_course_completed ON enrollments (site_id, course_id) WHERE completed_at IS NOT NULL;

CREATE TABLE pace_courses (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,            -- newest event id / enrollments / at 100 %, when built
    last_event_id BIGINT NOT NULL,        -- the newest event counted
    built_at    DATETIME NOT NULL,
    PRIMARY KEY (site_id, course_id)
);

-- Per learner in a course, what the figures need of their events, so that a new event
-- costs a count of its learner's journey, not of the course's.
CREATE TABLE pace_journeys (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    learner_id  BIGINT NOT NULL,
    enrolled_at DATETIME,                -- of the learner's first enrollment, when counted
    gaps        TEXT NOT NULL,            -- 'lesson:seconds' per completion after another
    at7         DATETIME,                -- the latest progress step by enrolled_at + 7 days
    pct7        REAL,
    at30        DATETIME,
    pct30       REAL,
    at90        DATETIME,
    pct90       REAL,
    PRIMARY KEY (site_id, course_id, learner_id)
);

-- Per lesson: the time from each learner's previous lesson completion in the course.
CREATE TABLE pace_lessons (
    site_id        INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id      BIGINT NOT NULL,
    lesson_id      BIGINT NOT NULL,
    gaps           BIGINT NOT NULL,       -- completions that had a lesson before them
    median_seconds REAL NOT NULL,
    PRIMARY KEY (site_id, course_id, lesson_id)
);

-- Per course and UTC month of enrolling: how the month's enrollments did.
CREATE TABLE pace_cohorts (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    cohort      TEXT NOT NULL,            -- YYYY-MM
    enrollments BIGINT NOT NULL,
    completed   BIGINT NOT NULL,
    known7      BIGINT NOT NULL,          -- enrollments whose progress at day 7 is known
    unknown7    BIGINT NOT NULL,          -- imported ones, with no record that early
    median7     REAL,         -- NULL: the cohort was not 7 days old
    known30     BIGINT NOT NULL,
    unknown30   BIGINT NOT NULL,
    median30    REAL,
    known90     BIGINT NOT NULL,
    unknown90   BIGINT NOT NULL,
    median90    REAL,
    PRIMARY KEY (site_id, course_id, cohort)
);

-- +goose Down
DROP TABLE pace_cohorts;
DROP TABLE pace_lessons;
DROP TABLE pace_journeys;
DROP TABLE pace_courses;
DROP INDEX enrollments_course_completed;
DROP INDEX learner_events_course;
