-- Why: same as postgres/00011_import.sql: the REST Admin API read once per install,
-- resumable and leased, and courses re-read when webhooks say they changed.

-- +goose Up
CREATE TABLE site_imports (
    site_id           INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    state             TEXT NOT NULL,                 -- queued, running, waiting (to retry), done, failed
    full_import       BOOLEAN NOT NULL DEFAULT TRUE, -- false: only enrollments updated after updated_after
    updated_after     DATETIME,
    phase             TEXT NOT NULL DEFAULT 'courses', -- courses, curricula, enrollments, done
    cursor_page       INTEGER NOT NULL DEFAULT 0,    -- the last page of the phase's listing written
    cursor_id         INTEGER NOT NULL DEFAULT 0,     -- curricula: the last course read
    courses           INTEGER NOT NULL DEFAULT 0,
    lessons           INTEGER NOT NULL DEFAULT 0,
    enrollments       INTEGER NOT NULL DEFAULT 0,
    enrollments_total INTEGER NOT NULL DEFAULT 0,
    requests          INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    requested_at      DATETIME NOT NULL,
    started_at        DATETIME,                   -- this run's start
    finished_at       DATETIME,
    next_attempt_at   DATETIME NOT NULL,
    lease_until       DATETIME,
    last_done_at      DATETIME,                   -- the start of the last import that finished
    history_from      DATETIME NOT NULL           -- lesson-level history exists from the first install
);
CREATE INDEX site_imports_due ON site_imports (next_attempt_at) WHERE state IN ('queued', 'running', 'waiting');

CREATE TABLE course_refreshes (
    site_id      INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    course_id    INTEGER NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,     -- course.deleted: no read, the course leaves the funnel
    due_at       DATETIME NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site_id, course_id)
);
CREATE INDEX course_refreshes_due ON course_refreshes (due_at);

ALTER TABLE courses ADD COLUMN listed_at DATETIME;           -- last seen in REST's course list
ALTER TABLE courses ADD COLUMN curriculum_read_at DATETIME;  -- chapters and contents last read
ALTER TABLE courses ADD COLUMN deleted_at DATETIME;
ALTER TABLE chapters ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lessons ADD COLUMN course_position INTEGER;          -- 1..n in curriculum order; NULL: not in the curriculum read
ALTER TABLE lessons ADD COLUMN unlisted_at DATETIME;              -- a read of the curriculum did not list it: never re-read for it again
-- Lessons events named that no curriculum read has placed: what the importer looks for each minute.
CREATE INDEX lessons_unplaced ON lessons (site_id, course_id) WHERE course_position IS NULL AND unlisted_at IS NULL;
ALTER TABLE enrollments ADD COLUMN imported_percent REAL; -- what REST said, 0-100
ALTER TABLE enrollments ADD COLUMN imported_as_of DATETIME;   -- REST's updated_at for it

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
