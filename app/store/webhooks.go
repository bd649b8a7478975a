package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/strideapp/stride/app/stride"
)

type webhookRow struct {
	SiteID     int64  `gorm:"primaryKey;autoIncrement:false"`
	Topic      string `gorm:"primaryKey"`
	ExternalID string
	TargetURL  string
	Status     string
	LastError  string
	CheckedAt  time.Time
}

func (webhookRow) TableName() string { return "site_webhooks" }

// Webhooks lists what Stride registered on a site, by topic.
func (db *DB) Webhooks(ctx context.Context, siteID int64) ([]stride.Webhook, error) {
	var rows []webhookRow
	if err := db.gorm.WithContext(ctx).Where("site_id = ?", siteID).Order("topic").Find(&rows).Error; err != nil {
		return nil, dbError(err, "webhooks")
	}
	out := make([]stride.Webhook, len(rows))
	for i, r := range rows {
		out[i] = stride.Webhook{SiteID: r.SiteID, Topic: r.Topic, ExternalID: r.ExternalID, TargetURL: r.TargetURL,
			Status: r.Status, LastError: r.LastError, CheckedAt: r.CheckedAt}
	}
	return out, nil
}

// SaveWebhook records the state of one topic's webhook on a site.
func (db *DB) SaveWebhook(ctx context.Context, w stride.Webhook) error {
	row := webhookRow{SiteID: w.SiteID, Topic: w.Topic, ExternalID: w.ExternalID, TargetURL: w.TargetURL,
		Status: w.Status, LastError: w.LastError, CheckedAt: db.now()}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	return dbError(err, "webhook")
}
