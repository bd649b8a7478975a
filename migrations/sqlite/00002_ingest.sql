-- Why: receiving events; same tables as postgres/00002_ingest.sql, in SQLite's types.
-- Why (as there): The inbox is the queue and the delivery log: one row per event a
-- site sent, unique per (site, event id), so 14 retries and replays are harmless. The site's
-- records (learners, courses, ...) are applied from it by workers. learner_events holds the two
-- halves of each learner step; the steps view pairs them into one row per step.

-- +goose Up
ALTER TABLE sites ADD COLUMN tenant_id TEXT;          -- Thinkific's tenant_id, learned from events
ALTER TABLE sites ADD COLUMN purge_after DATETIME; -- uninstalled: its data is deleted after this
CREATE UNIQUE INDEX sites_tenant_id ON sites (tenant_id) WHERE tenant_id IS NOT NULL;

CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id         INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    topic           TEXT NOT NULL,
    body            BLOB NOT NULL,                -- the raw bytes, as signed
    status          TEXT NOT NULL,                 -- accepted, processed, failed, quarantined
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    received_at     DATETIME NOT NULL,
    processed_at    DATETIME,
    UNIQUE (site_id, event_id)
);
CREATE INDEX inbox_due ON inbox (next_attempt_at) WHERE status = 'accepted';
CREATE INDEX inbox_site_log ON inbox (site_id, received_at);

-- Repeated deliveries of an event already in the inbox: only for the delivery log.
CREATE TABLE inbox_duplicates (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    received_at DATETIME NOT NULL
);
CREATE INDEX inbox_duplicates_site_log ON inbox_duplicates (site_id, received_at);

-- A site's records. seen_at is the event time of the data, so older events never overwrite it.
CREATE TABLE learners (
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    id         BIGINT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    seen_at    DATETIME NOT NULL,
    PRIMARY KEY (site_id, id)
);

CREATE TABLE courses (
    site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    id      BIGINT NOT NULL,
    name    TEXT NOT NULL DEFAULT '',
    seen_at DATETIME NOT NULL,
    PRIMARY KEY (site_id, id)
);

CREATE TABLE chapters (
    site_id   INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    id        BIGINT NOT NULL,
    course_id BIGINT NOT NULL,
    name      TEXT NOT NULL DEFAULT '',
    seen_at   DATETIME NOT NULL,
    PRIMARY KEY (site_id, id)
);

CREATE TABLE lessons (
    site_id     INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    id          BIGINT NOT NULL,
    course_id   BIGINT NOT NULL,
    chapter_id  BIGINT,
    name        TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL DEFAULT 0,
    lesson_type TEXT NOT NULL DEFAULT '',
    seen_at     DATETIME NOT NULL,
    PRIMARY KEY (site_id, id)
);
CREATE INDEX lessons_course ON lessons (site_id, course_id);

CREATE TABLE enrollments (
    site_id          INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    id               BIGINT NOT NULL,
    learner_id       BIGINT NOT NULL,
    course_id        BIGINT NOT NULL,
    percent          REAL NOT NULL DEFAULT 0,
    percent_at       DATETIME,                  -- event time of percent
    enrolled_at      DATETIME,
    started_at       DATETIME,
    activated_at     DATETIME,
    completed_at     DATETIME,
    expiry_date      DATETIME,
    free_trial       BOOLEAN NOT NULL DEFAULT FALSE,
    last_activity_at DATETIME,
    seen_at          DATETIME NOT NULL,
    PRIMARY KEY (site_id, id)
);
CREATE INDEX enrollments_course ON enrollments (site_id, course_id);
CREATE INDEX enrollments_learner ON enrollments (site_id, learner_id);

-- The halves of learner steps: lesson.completed (which lesson) and enrollment.progress (which
-- percentage). partner_id links the two halves of one step, both ways.
CREATE TABLE learner_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id        INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    event_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,                  -- lesson, progress
    learner_id     BIGINT NOT NULL,
    course_id      BIGINT NOT NULL,
    enrollment_id  BIGINT,
    occurred_at    DATETIME NOT NULL,
    chapter_id     BIGINT,
    lesson_id      BIGINT,
    percent_before REAL,
    percent_after  REAL,
    before_given   BOOLEAN NOT NULL DEFAULT FALSE, -- percent_before came from the event itself
    partner_id     BIGINT,
    UNIQUE (site_id, event_id)
);
CREATE INDEX learner_events_journey ON learner_events (site_id, learner_id, course_id, occurred_at);
CREATE INDEX learner_events_site_time ON learner_events (site_id, occurred_at);

-- One row per learner step: a lesson with its progress half when paired, or a half alone.
CREATE VIEW steps AS
SELECT l.site_id, l.learner_id, l.course_id, COALESCE(l.enrollment_id, p.enrollment_id) AS enrollment_id,
       l.chapter_id, l.lesson_id, l.occurred_at, p.percent_before, p.percent_after,
       l.id AS lesson_event_id, p.id AS progress_event_id
FROM learner_events l LEFT JOIN learner_events p ON p.id = l.partner_id
WHERE l.kind = 'lesson'
UNION ALL
SELECT p.site_id, p.learner_id, p.course_id, p.enrollment_id, NULL, NULL, p.occurred_at,
       p.percent_before, p.percent_after, NULL, p.id
FROM learner_events p
WHERE p.kind = 'progress' AND p.partner_id IS NULL;

-- +goose Down
DROP VIEW steps;
DROP TABLE learner_events;
DROP TABLE enrollments;
DROP TABLE lessons;
DROP TABLE chapters;
DROP TABLE courses;
DROP TABLE learners;
DROP TABLE inbox_duplicates;
DROP TABLE inbox;
DROP INDEX sites_tenant_id;
ALTER TABLE sites DROP COLUMN purge_after;
ALTER TABLE sites DROP COLUMN tenant_id;
