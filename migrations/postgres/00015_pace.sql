-- Why: a course's pace (time between lessons) and cohorts (progress 7/30/90 days after
-- enrolling) need each learner's events in the course in time order, which no index gave
-- by course: learner_events_course lists a course's events and gives, in one probe, the
-- newest one's id, which tells whether the rollups below are still current.
-- enrollments_course_completed lists a course's finished enrollments for its median and
-- 75th-percentile days to finish. pace_* are rollups of one course each, counted again
-- (store.RefreshPace, or the page) when that id or the course's enrollment counts moved:
-- the journeys of learners with newer events, then the course's figures from its
-- journeys. Pages read them, never the events. Measured on bench-pages' largest site (a
-- course of 200,000 events, 5,000 learners): a count from all the course's events takes
-- seconds (they lie all over the table); see README for the incremental one.

-- +goose Up
CREATE INDEX learner_events_course ON learner_events (site_id, course_id, id);
CREATE INDEX enrollments_course_completed ON enrollments (site_id, course_id) WHERE completed_at IS NOT NULL;

CREATE TABLE pace_courses (
    site_id     BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,            -- newest event id / enrollments / at 100 %, when built
    last_event_id BIGINT NOT NULL,        -- the newest event counted
    built_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, course_id)
);

-- Per learner in a course, what the figures need of their events, so that a new event
-- costs a count of its learner's journey, not of the course's.
CREATE TABLE pace_journeys (
    site_id     BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    learner_id  BIGINT NOT NULL,
    enrolled_at TIMESTAMPTZ,             -- of the learner's first enrollment, when counted
    gaps        TEXT NOT NULL,            -- 'lesson:seconds' per completion after another
    at7         TIMESTAMPTZ,             -- the latest progress step by enrolled_at + 7 days
    pct7        DOUBLE PRECISION,
    at30        TIMESTAMPTZ,
    pct30       DOUBLE PRECISION,
    at90        TIMESTAMPTZ,
    pct90       DOUBLE PRECISION,
    PRIMARY KEY (site_id, course_id, learner_id)
);

-- Per lesson: the time from each learner's previous lesson completion in the course.
CREATE TABLE pace_lessons (
    site_id        BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id      BIGINT NOT NULL,
    lesson_id      BIGINT NOT NULL,
    gaps           BIGINT NOT NULL,       -- completions that had a lesson before them
    median_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site_id, course_id, lesson_id)
);

-- Per course and UTC month of enrolling: how the month's enrollments did.
CREATE TABLE pace_cohorts (
    site_id     BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id   BIGINT NOT NULL,
    cohort      TEXT NOT NULL,            -- YYYY-MM
    enrollments BIGINT NOT NULL,
    completed   BIGINT NOT NULL,
    known7      BIGINT NOT NULL,          -- enrollments whose progress at day 7 is known
    unknown7    BIGINT NOT NULL,          -- imported ones, with no record that early
    median7     DOUBLE PRECISION,         -- NULL: the cohort was not 7 days old
    known30     BIGINT NOT NULL,
    unknown30   BIGINT NOT NULL,
    median30    DOUBLE PRECISION,
    known90     BIGINT NOT NULL,
    unknown90   BIGINT NOT NULL,
    median90    DOUBLE PRECISION,
    PRIMARY KEY (site_id, course_id, cohort)
);

-- +goose Down
DROP TABLE pace_cohorts;
DROP TABLE pace_lessons;
DROP TABLE pace_journeys;
DROP TABLE pace_courses;
DROP INDEX enrollments_course_completed;
DROP INDEX learner_events_course;
