package store

import (
	"context"
	"database/sql"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

var lockingForUpdate = clause.Locking{Strength: clause.LockingStrengthUpdate}

// Recipients are the digest's addresses, one per line of DigestRecipients, bare (a line
// "Name <addr>" gives addr): what mail is sent to and unsubscribe tokens name.
func (s Settings) Recipients() []string {
	var out []string
	for _, line := range strings.Split(s.DigestRecipients, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if a, err := mail.ParseAddress(line); err == nil {
			line = a.Address
		}
		out = append(out, line)
	}
	return out
}

// DigestWeek is what a site's weekly digest reports of the days [From, To).
type DigestWeek struct {
	From, To     time.Time
	Enrollments  int64 // enrolled in the window
	Completions  int64 // courses completed in the window
	StalledCount int64 // learners who became stalled in the window
	Stalled      []StalledLearner
}

// StalledLearner is an enrollment that became stalled: started, unfinished, and its idle
// time reached the site's threshold in the window.
type StalledLearner struct {
	LearnerID      int64
	FirstName      string
	LastName       string
	Email          string
	CourseID       int64
	Course         string
	Percent        float64
	LastActivityAt *time.Time // nil: none since enrolling
	EnrolledAt     *time.Time
	NextLessonID   *int64 // the first lesson in curriculum order the learner has not completed
	NextLesson     string
}

// IdleSince is when the learner was last active, or enrolled when never.
func (l StalledLearner) IdleSince() *time.Time {
	if l.LastActivityAt != nil {
		return l.LastActivityAt
	}
	return l.EnrolledAt
}

// Name is "first last", or the address when Thinkific gave no name.
func (l StalledLearner) Name() string {
	if n := strings.TrimSpace(l.FirstName + " " + l.LastName); n != "" {
		return n
	}
	return l.Email
}

// DigestWeek reads the figures of a weekly digest: enrollments and completions in
// [from, to), and the enrollments that became stalled in it under stalledAfter, the first
// limit of them by name (most recently stalled first).
func (v *SiteView) DigestWeek(ctx context.Context, from, to time.Time, stalledAfter time.Duration, limit int) (*DigestWeek, error) {
	from, to = from.UTC(), to.UTC()
	w := &DigestWeek{From: from, To: to}
	g := v.db.reader(ctx)
	if err := g.Raw(`SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND enrolled_at >= ? AND enrolled_at < ?`,
		v.siteID, from, to).Scan(&w.Enrollments).Error; err != nil {
		return nil, dbError(err, "digest enrollments")
	}
	if err := g.Raw(`SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND completed_at >= ? AND completed_at < ?`,
		v.siteID, from, to).Scan(&w.Completions).Error; err != nil {
		return nil, dbError(err, "digest completions")
	}
	// An enrollment becomes stalled stalledAfter after its last activity (its enrollment
	// when it had none), as statusSQL classifies it: started and unfinished by the same
	// rules as every page (an imported enrollment at 0 % is not started, whatever activity
	// the import stamped).
	args := []any{sql.Named("site", v.siteID), sql.Named("lo", from.Add(-stalledAfter)), sql.Named("hi", to.Add(-stalledAfter))}
	const becameStalled = `FROM enrollments e
		WHERE e.site_id = @site AND NOT ` + doneSQL + ` AND NOT ` + notStartedSQL + `
		AND COALESCE(e.last_activity_at, e.enrolled_at) >= @lo AND COALESCE(e.last_activity_at, e.enrolled_at) < @hi`
	if err := g.Raw(`SELECT COUNT(*) `+becameStalled, args...).Scan(&w.StalledCount).Error; err != nil {
		return nil, dbError(err, "digest stalled")
	}
	err := g.Raw(`SELECT e.learner_id, COALESCE(lr.first_name, '') AS first_name, COALESCE(lr.last_name, '') AS last_name,
			COALESCE(lr.email, '') AS email, e.course_id, COALESCE(c.name, '') AS course, e.percent,
			e.last_activity_at, e.enrolled_at, nxt.id AS next_lesson_id, COALESCE(nxt.name, '') AS next_lesson
		FROM (SELECT e.* `+becameStalled+`) e
		LEFT JOIN learners lr ON lr.site_id = e.site_id AND lr.id = e.learner_id
		LEFT JOIN courses c ON c.site_id = e.site_id AND c.id = e.course_id
		LEFT JOIN lessons nxt ON nxt.site_id = e.site_id AND nxt.id = e.next_lesson_id
		ORDER BY COALESCE(e.last_activity_at, e.enrolled_at) DESC, e.id LIMIT @limit`,
		append(args, sql.Named("limit", limit))...).Scan(&w.Stalled).Error
	if err != nil {
		return nil, dbError(err, "digest stalled learners")
	}
	return w, nil
}

// DigestSites are the settings of the installed sites whose admins turned the digest on.
func (db *DB) DigestSites(ctx context.Context) ([]Settings, error) {
	var out []Settings
	err := db.reader(ctx).Raw(`SELECT st.* FROM site_settings st JOIN sites s ON s.id = st.site_id
		WHERE st.digest_enabled AND s.uninstalled_at IS NULL ORDER BY st.site_id`).Scan(&out).Error
	return out, dbError(err, "digest sites")
}

// ClaimDigest takes the site's digest of week for this process: one conditional update, so
// of several processes exactly one gets it. A week whose earlier try failed is claimable
// again only from its retry time.
func (db *DB) ClaimDigest(ctx context.Context, siteID int64, week string) (bool, error) {
	now := db.now()
	res := db.write(ctx).Exec(`UPDATE site_settings SET digest_sent_week = ?, digest_sent_at = ?
		WHERE site_id = ? AND digest_enabled AND digest_sent_week <> ? AND (digest_retry_at IS NULL OR digest_retry_at <= ?)`,
		week, now, siteID, week, now)
	if res.Error != nil {
		return false, dbError(res.Error, "digest claim")
	}
	return res.RowsAffected == 1, nil
}

// ReleaseDigest gives back a claimed week whose digest could not be sent, restoring what
// was there before (prev, prevAt), to be tried again after a wait that starts at backoff and
// doubles: at most tries times a week, after which the week stays claimed and is not sent.
// It reports when the next try may start and whether it gave the claim back.
func (db *DB) ReleaseDigest(ctx context.Context, siteID int64, week, prev string, prevAt *time.Time, backoff time.Duration, tries int) (retryAt time.Time, released bool, err error) {
	err = db.tx(ctx, func(tx *gorm.DB) error {
		var row struct {
			DigestFailedWeek string
			DigestFailures   int
		}
		if err := tx.Raw(`SELECT digest_failed_week, digest_failures FROM site_settings WHERE site_id = ? AND digest_sent_week = ?`,
			siteID, week).Scan(&row).Error; err != nil {
			return err
		}
		failures := 1
		if row.DigestFailedWeek == week {
			failures = row.DigestFailures + 1
		}
		released = failures < tries
		retryAt = db.now().Add(backoff << (failures - 1))
		sentWeek, sentAt := week, any(db.now())
		if released {
			sentWeek, sentAt = prev, prevAt
		}
		return tx.Exec(`UPDATE site_settings SET digest_failed_week = ?, digest_failures = ?, digest_retry_at = ?,
			digest_sent_week = ?, digest_sent_at = ? WHERE site_id = ? AND digest_sent_week = ?`,
			week, failures, retryAt, sentWeek, sentAt, siteID, week).Error
	})
	return retryAt, released, dbError(err, "digest release")
}

// RemoveDigestRecipient takes address (compared without case) off the site's digest
// recipients; it reports whether it was there.
func (v *SiteView) RemoveDigestRecipient(ctx context.Context, address string) (bool, error) {
	removed := false
	err := v.db.tx(ctx, func(tx *gorm.DB) error {
		q := tx.Model(&Settings{}).Where("site_id = ?", v.siteID)
		if v.db.postgres {
			q = q.Clauses(lockingForUpdate)
		}
		var s []Settings
		if err := q.Find(&s).Error; err != nil || len(s) == 0 {
			return err
		}
		var keep []string
		for _, line := range s[0].Recipients() {
			if strings.EqualFold(line, address) {
				removed = true
				continue
			}
			keep = append(keep, line)
		}
		if !removed {
			return nil
		}
		return tx.Exec(`UPDATE site_settings SET digest_recipients = ?, updated_at = ? WHERE site_id = ?`,
			strings.Join(keep, "\n"), v.db.now(), v.siteID).Error
	})
	return removed, dbError(err, "digest recipients")
}
