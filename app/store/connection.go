package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/strideapp/stride/app/stride"
)

// The connection page's side of SiteView: how Thinkific reaches the site.

// Webhooks lists what Stride registered on the site, by topic.
func (v *SiteView) Webhooks(ctx context.Context) ([]stride.Webhook, error) {
	return v.db.Webhooks(ctx, v.siteID)
}

// DeliveryLog lists the site's deliveries, newest first, received before `before`.
func (v *SiteView) DeliveryLog(ctx context.Context, before time.Time, limit int) ([]LoggedDelivery, error) {
	var out []LoggedDelivery
	err := v.db.reader(ctx).Table("inbox").Select("id, event_id, topic, status, attempts, last_error, received_at, duplicates, last_duplicate_at").
		Where("site_id = ? AND received_at < ?", v.siteID, before.UTC()).Order("received_at DESC, id DESC").Limit(limit).Scan(&out).Error
	return out, dbError(err, "delivery log")
}

// Replay puts a failed or quarantined delivery of the site back in line for the workers.
func (v *SiteView) Replay(ctx context.Context, id int64) error {
	res := v.db.write(ctx).Exec(`UPDATE inbox SET status = ?, attempts = 0, next_attempt_at = ?, last_error = '', processed_at = NULL
		WHERE site_id = ? AND id = ? AND status IN (?, ?)`, StatusAccepted, v.db.now(), v.siteID, id, StatusFailed, StatusQuarantined)
	if res.Error != nil {
		return dbError(res.Error, "delivery")
	}
	if res.RowsAffected == 0 {
		return stride.Errorf(stride.ENOTFOUND, "no failed or quarantined delivery %d", id)
	}
	return nil
}

// Connection is what the connection page shows besides webhooks and the delivery log.
type Connection struct {
	LastEventAt *time.Time
}

// Connection reads when the site's last event came (one index probe, however big the inbox).
func (v *SiteView) Connection(ctx context.Context) (*Connection, error) {
	c := &Connection{}
	var last []struct{ ReceivedAt time.Time }
	err := v.db.reader(ctx).Raw("SELECT received_at FROM inbox WHERE site_id = ? ORDER BY received_at DESC LIMIT 1", v.siteID).Scan(&last).Error
	if err != nil {
		return nil, dbError(err, "inbox")
	}
	if len(last) > 0 {
		c.LastEventAt = &last[0].ReceivedAt
	}
	return c, nil
}

// ImportStatus is the site's import as the connection page shows it.
type ImportStatus struct {
	Import
	// CoursesLeft is, while curricula are read, how many listed courses still have their
	// chapters and contents to read.
	CoursesLeft int
}

// Import reads the site's import; ENOTFOUND when none was ever asked for.
func (v *SiteView) Import(ctx context.Context) (*ImportStatus, error) {
	var st ImportStatus
	if err := v.db.reader(ctx).Where("site_id = ?", v.siteID).Take(&st.Import).Error; err != nil {
		return nil, dbError(err, "import")
	}
	if st.Phase == PhaseCurricula && st.StartedAt != nil {
		var n int64
		err := v.db.reader(ctx).Table("courses").Where(curriculumToRead, v.siteID, st.StartedAt.UTC(), st.CursorID).Count(&n).Error
		if err != nil {
			return nil, dbError(err, "courses")
		}
		st.CoursesLeft = int(n)
	}
	return &st, nil
}

// Reimport asks for a full import of the site, as a person does with "Re-import": every
// course and every enrollment read again. While one is queued or running it refuses
// (ECONFLICT); one waiting to retry after a failure starts over now.
func (v *SiteView) Reimport(ctx context.Context) error {
	err := v.db.tx(ctx, func(tx *gorm.DB) error {
		q := tx.Where("site_id = ?", v.siteID)
		if v.db.postgres {
			// Two clicks at once: the second waits for the first and then sees it queued.
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var cur []Import
		if err := q.Find(&cur).Error; err != nil {
			return err
		}
		if len(cur) == 1 && (cur[0].State == ImportQueued || cur[0].State == ImportRunning) {
			return stride.Errorf(stride.ECONFLICT, "An import of this site is already %s: Re-import is possible once it has ended.", cur[0].State)
		}
		return queueImport(tx, v.siteID, true, v.db.now())
	})
	return dbError(err, "import")
}
