package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Settings are what a site's admin chose; a site that never saved any has the defaults
// (DefaultSettings).
type Settings struct {
	SiteID           int64  `gorm:"primaryKey"`
	StalledDays      int    // idle days that make an unfinished learner stalled
	TimeZone         string // IANA zone pages show times in; "" = the admin's browser zone
	DigestEnabled    bool
	DigestRecipients string // addresses, one per line
	DigestWeekday    int    // 0 = Sunday .. 6 = Saturday, in TimeZone (UTC when "")
	DigestHour       int    // 0..23, in TimeZone
	DigestSentWeek   string // ISO week of the last digest sent, "2026-W49"
	DigestSentAt     *time.Time
	UpdatedAt        time.Time
}

func (Settings) TableName() string { return "site_settings" }

// DefaultSettings are a site's settings before its admin saves any.
func DefaultSettings(siteID int64) Settings {
	return Settings{SiteID: siteID, StalledDays: 15, DigestWeekday: 1, DigestHour: 8}
}

// StalledAfter is how long without activity makes a learner of this site stalled.
func (s Settings) StalledAfter() time.Duration { return time.Duration(s.StalledDays) * 24 * time.Hour }

// Settings reads the site's settings, or the defaults.
func (v *SiteView) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	err := v.db.reader(ctx).Where("site_id = ?", v.siteID).Take(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return DefaultSettings(v.siteID), nil
	}
	return s, dbError(err, "settings")
}

// SaveSettings stores what the admin chose. The digest's sent week is the worker's and is
// left as it is.
func (v *SiteView) SaveSettings(ctx context.Context, s Settings) error {
	s.SiteID, s.UpdatedAt = v.siteID, v.db.now()
	err := v.db.write(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "site_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"stalled_days", "time_zone", "digest_enabled", "digest_recipients",
			"digest_weekday", "digest_hour", "updated_at"}),
	}).Omit("digest_sent_week", "digest_sent_at").Create(&s).Error
	return dbError(err, "settings")
}
