package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

// Uninstall applies app.uninstalled for a site: marked uninstalled at once, tokens deleted,
// data deleted after grace unless it reinstalls. An event older than the site's latest
// install (a retry from before a reinstall) changes nothing. It reports whether it acted.
func (db *DB) Uninstall(ctx context.Context, siteID int64, eventAt time.Time, grace time.Duration) (bool, error) {
	var acted bool
	err := db.tx(ctx, func(tx *gorm.DB) error {
		var err error
		acted, err = uninstall(tx, siteID, eventAt, db.now(), db.now(), grace)
		return err
	})
	return acted, dbError(err, "site")
}

// Uninstall is Uninstall inside the worker's transaction.
func (s *SiteTx) Uninstall(eventAt, receivedAt time.Time, grace time.Duration) error {
	_, err := uninstall(s.tx, s.siteID, eventAt, receivedAt, s.db.now(), grace)
	return err
}

func uninstall(tx *gorm.DB, siteID int64, eventAt, receivedAt, now time.Time, grace time.Duration) (bool, error) {
	// An uninstall older than the latest install (a retry from before a reinstall) is stale;
	// within the clocks' skew it is taken as the newer — unless it was received before that
	// install, when it can only have been about the installation before.
	res := tx.Model(&siteRow{}).Where("id = ? AND uninstalled_at IS NULL AND installed_at <= ? AND installed_at <= ?",
		siteID, eventAt.Add(stride.ClockSkew).UTC(), receivedAt.UTC()).
		Updates(map[string]any{"uninstalled_at": now, "purge_after": now.Add(grace), "updated_at": now})
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	if err := tx.Where("site_id = ?", siteID).Delete(&tokenRow{}).Error; err != nil {
		return false, err
	}
	return true, audit(tx, siteID, "uninstalled", "app.uninstalled received; data is deleted after "+now.Add(grace).Format(time.RFC3339)+" unless the site reinstalls", now)
}

// siteTables hold a site's records; purging deletes from each, children first.
var siteTables = []string{"lesson_completions", "lesson_stats", "daily_stats", "progress_buckets", "learner_events", "enrollments", "lessons", "chapters", "courses", "learners", "inbox", "course_refreshes", "site_imports", "site_settings", "pace_courses", "pace_journeys", "pace_lessons", "pace_cohorts"}

// PurgeUninstalled deletes the records of sites uninstalled longer than their grace period.
// The site row and its audit trail stay. It returns how many sites it purged.
func (db *DB) PurgeUninstalled(ctx context.Context) (int, error) {
	var ids []int64
	now := db.now()
	if err := db.gorm.WithContext(ctx).Model(&siteRow{}).Where("uninstalled_at IS NOT NULL AND purge_after <= ?", now).Pluck("id", &ids).Error; err != nil {
		return 0, dbError(err, "sites")
	}
	for _, id := range ids {
		err := db.tx(ctx, func(tx *gorm.DB) error {
			for _, t := range siteTables {
				if err := tx.Exec("DELETE FROM "+t+" WHERE site_id = ?", id).Error; err != nil {
					return err
				}
			}
			if err := tx.Model(&siteRow{}).Where("id = ?", id).Update("purge_after", nil).Error; err != nil {
				return err
			}
			return audit(tx, id, "data_deleted", "the grace period after uninstall ended", now)
		})
		if err != nil {
			return 0, dbError(err, "site")
		}
	}
	return len(ids), nil
}

// DeleteOldDeliveries trims the delivery log: settled deliveries received before cutoff go.
// Rows still waiting for a worker stay, however old.
func (db *DB) DeleteOldDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	// Site by site: each delete then reads only the start of the site's range of the
	// (site_id, received_at) index. One delete for all sites reads that whole index, every
	// delivery the retention keeps, each time it runs.
	var sites []int64
	if err := db.reader(ctx).Model(&siteRow{}).Order("id").Pluck("id", &sites).Error; err != nil {
		return 0, dbError(err, "sites")
	}
	var n int64
	for _, site := range sites {
		res := db.write(ctx).Exec("DELETE FROM inbox WHERE site_id = ? AND received_at < ? AND status <> ?", site, cutoff.UTC(), StatusAccepted)
		if res.Error != nil {
			return n, dbError(res.Error, "inbox")
		}
		n += res.RowsAffected
	}
	held := db.write(ctx).Exec("DELETE FROM inbox_unrouted WHERE received_at < ?", cutoff.UTC())
	return n + held.RowsAffected, dbError(held.Error, "inbox")
}
