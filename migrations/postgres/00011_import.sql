-- Why: a new install shows the whole course from the first minute. Thinkific's REST Admin
-- API is read once per install (and when a person asks): the courses with their chapters
-- and contents in curriculum order, then every enrollment with its percentage. The import
-- is resumable from its cursor and leased, so one process at a time works on a site's.
-- Courses are re-read when a course.* webhook names them or an event names a lesson the
-- curriculum lacks.

-- +goose Up
CREATE TABLE site_imports (
    site_id           BIGINT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    state             TEXT NOT NULL,                 -- queued, running, waiting (to retry), done, failed
    full_import       BOOLEAN NOT NULL DEFAULT TRUE, -- false: only enrollments updated after updated_after
    updated_after     TIMESTAMPTZ,
    phase             TEXT NOT NULL DEFAULT 'courses', -- courses, curricula, enrollments, done
    cursor_page       INTEGER NOT NULL DEFAULT 0,    -- the last page of the phase's listing written
    cursor_id         BIGINT NOT NULL DEFAULT 0,     -- curricula: the last course read
    courses           INTEGER NOT NULL DEFAULT 0,
    lessons           INTEGER NOT NULL DEFAULT 0,
    enrollments       INTEGER NOT NULL DEFAULT 0,
    enrollments_total INTEGER NOT NULL DEFAULT 0,
    requests          INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    requested_at      TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,                   -- this run's start
    finished_at       TIMESTAMPTZ,
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    lease_until       TIMESTAMPTZ,
    last_done_at      TIMESTAMPTZ,                   -- the start of the last import that finished
    history_from      TIMESTAMPTZ NOT NULL           -- lesson-level history exists from the first install
);
CREATE INDEX site_imports_due ON site_imports (next_attempt_at) WHERE state IN ('queued', 'running', 'waiting');

CREATE TABLE course_refreshes (
    site_id      BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id    BIGINT NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,     -- course.deleted: no read, the course leaves the funnel
    due_at       TIMESTAMPTZ NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site_id, course_id)
);
CREATE INDEX course_refreshes_due ON course_refreshes (due_at);

ALTER TABLE courses ADD COLUMN listed_at TIMESTAMPTZ;           -- last seen in REST's course list
ALTER TABLE courses ADD COLUMN curriculum_read_at TIMESTAMPTZ;  -- chapters and contents last read
ALTER TABLE courses ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE chapters ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lessons ADD COLUMN course_position INTEGER;          -- 1..n in curriculum order; NULL: not in the curriculum read
ALTER TABLE lessons ADD COLUMN unlisted_at TIMESTAMPTZ;              -- a read of the curriculum did not list it: never re-read for it again
-- Lessons events named that no curriculum read has placed: what the importer looks for each minute.
CREATE INDEX lessons_unplaced ON lessons (site_id, course_id) WHERE course_position IS NULL AND unlisted_at IS NULL;
ALTER TABLE enrollments ADD COLUMN imported_percent DOUBLE PRECISION; -- what REST said, 0-100
ALTER TABLE enrollments ADD COLUMN imported_as_of TIMESTAMPTZ;   -- REST's updated_at for it

-- Sites installed before the import existed get theirs now (due at once: their install time is
-- past); lesson history began at their install.
INSERT INTO site_imports (site_id, state, requested_at, next_attempt_at, history_from)
SELECT id, 'queued', installed_at, installed_at, installed_at FROM sites WHERE uninstalled_at IS NULL;

-- +goose Down
DROP INDEX lessons_unplaced;
ALTER TABLE enrollments DROP COLUMN imported_as_of;
ALTER TABLE enrollments DROP COLUMN imported_percent;
ALTER TABLE lessons DROP COLUMN unlisted_at;
ALTER TABLE lessons DROP COLUMN course_position;
ALTER TABLE chapters DROP COLUMN position;
ALTER TABLE courses DROP COLUMN deleted_at;
ALTER TABLE courses DROP COLUMN curriculum_read_at;
ALTER TABLE courses DROP COLUMN listed_at;
DROP TABLE course_refreshes;
DROP TABLE site_imports;
