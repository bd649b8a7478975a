package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

type siteRow struct {
	ID            int64 `gorm:"primaryKey"`
	Subdomain     *string
	GID           string `gorm:"column:gid"`
	TenantID      *string
	Scopes        string
	InstalledAt   time.Time
	UninstalledAt *time.Time
	WebhooksDueAt time.Time
	// WebhooksLeaseUntil is held by whoever is reconciling the site's webhooks.
	WebhooksLeaseUntil *time.Time
	PurgeAfter         *time.Time
	ReconnectNeededAt  *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

func (siteRow) TableName() string { return "sites" }

func (r *siteRow) site() *stride.Site {
	s := &stride.Site{ID: r.ID, GID: r.GID, Scopes: r.Scopes, InstalledAt: r.InstalledAt, UninstalledAt: r.UninstalledAt,
		ReconnectNeeded: r.ReconnectNeededAt != nil}
	if r.Subdomain != nil {
		s.Subdomain = *r.Subdomain
	}
	if r.TenantID != nil {
		s.TenantID = *r.TenantID
	}
	return s
}

// Grant is what a completed OAuth install grants Stride on a site: its identity, the scopes
// and the tokens.
type Grant struct {
	Subdomain string
	GID       string
	Scopes    string
	Tokens    stride.Tokens
}

// SaveInstall records an install: a site seen before (by gid) is updated, never duplicated.
// It reports whether the site was already known.
func (db *DB) SaveInstall(ctx context.Context, in Grant) (site *stride.Site, known bool, err error) {
	now := db.now()
	err = db.tx(ctx, func(tx *gorm.DB) error {
		var row siteRow
		err := tx.Where("gid = ?", in.GID).Take(&row).Error
		known = err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		// Subdomains are unique at Thinkific, so a different site holding this name is a
		// former tenant whose name was taken over: it must not keep it, nor be reachable by it.
		var prior siteRow
		if err := tx.Where("subdomain = ? AND gid <> ?", in.Subdomain, in.GID).Take(&prior).Error; err == nil {
			if err := tx.Model(&prior).Updates(map[string]any{"subdomain": nil, "uninstalled_at": now, "updated_at": now}).Error; err != nil {
				return err
			}
			if err := tx.Where("site_id = ?", prior.ID).Delete(&tokenRow{}).Error; err != nil {
				return err
			}
			if err := audit(tx, prior.ID, "subdomain_released", "the subdomain "+in.Subdomain+" now belongs to another site", now); err != nil {
				return err
			}
		}
		action := "installed"
		switch {
		case !known:
			row = siteRow{GID: in.GID, InstalledAt: now, CreatedAt: now}
		case row.UninstalledAt != nil:
			action, row.InstalledAt = "reinstalled", now
		default:
			action = "install_renewed"
		}
		row.Subdomain, row.Scopes, row.UninstalledAt, row.PurgeAfter = &in.Subdomain, in.Scopes, nil, nil
		row.ReconnectNeededAt = nil // new tokens
		row.WebhooksDueAt, row.UpdatedAt = now, now
		// The webhook lease is not the install's to write: a reconcile may hold it.
		if err := tx.Omit("webhooks_lease_until").Save(&row).Error; err != nil {
			return err
		}
		if err := db.putTokens(tx, row.ID, in.Tokens); err != nil {
			return err
		}
		// The course structure and enrollments from before the install, read in the
		// background; a reinstall reads only what changed since the last import.
		if err := queueImport(tx, row.ID, false, now); err != nil {
			return err
		}
		site = row.site()
		return audit(tx, row.ID, action, "subdomain "+in.Subdomain, now)
	})
	return site, known, dbError(err, "site")
}

// SiteBySubdomain finds an installed or uninstalled site by its current subdomain.
func (db *DB) SiteBySubdomain(ctx context.Context, subdomain string) (*stride.Site, error) {
	var row siteRow
	if err := db.reader(ctx).Where("subdomain = ?", subdomain).Take(&row).Error; err != nil {
		return nil, dbError(err, "site")
	}
	return row.site(), nil
}

// SiteByGID finds a site by its Thinkific global id (the signed tenant_global_id).
func (db *DB) SiteByGID(ctx context.Context, gid string) (*stride.Site, error) {
	var row siteRow
	if err := db.reader(ctx).Where("gid IN ?", []string{gid, strings.ToLower(gid)}).Take(&row).Error; err != nil {
		return nil, dbError(err, "site")
	}
	return row.site(), nil
}

// Site finds a site by id.
func (db *DB) Site(ctx context.Context, id int64) (*stride.Site, error) {
	var row siteRow
	if err := db.reader(ctx).Take(&row, id).Error; err != nil {
		return nil, dbError(err, "site")
	}
	return row.site(), nil
}

// leaseFree is the condition that nobody holds a site's webhook lease.
const leaseFree = "(webhooks_lease_until IS NULL OR webhooks_lease_until <= ?)"

// ClaimWebhookSweep returns installed sites whose webhooks are due for a check and that
// nobody is reconciling, and leases them until `until`, which is also when they are due
// again should the sweeper die. The claim is one conditional update per site, so processes
// sweeping at once, or registering a new install's webhooks, never reconcile a site twice.
func (db *DB) ClaimWebhookSweep(ctx context.Context, until time.Time, limit int) ([]*stride.Site, error) {
	now := db.now()
	var due []siteRow
	err := db.gorm.WithContext(ctx).Where("uninstalled_at IS NULL AND webhooks_due_at <= ? AND "+leaseFree, now, now).
		Order("webhooks_due_at").Limit(limit).Find(&due).Error
	if err != nil {
		return nil, dbError(err, "sites")
	}
	var claimed []*stride.Site
	for _, row := range due {
		res := db.gorm.WithContext(ctx).Model(&siteRow{}).
			Where("id = ? AND webhooks_due_at = ? AND "+leaseFree, row.ID, row.WebhooksDueAt, now).
			Updates(map[string]any{"webhooks_due_at": until.UTC(), "webhooks_lease_until": until.UTC()})
		if res.Error != nil {
			return claimed, dbError(res.Error, "site")
		}
		if res.RowsAffected == 1 {
			claimed = append(claimed, row.site())
		}
	}
	return claimed, nil
}

// ClaimWebhooks leases one site's webhooks until `until`, unless someone holds the lease.
func (db *DB) ClaimWebhooks(ctx context.Context, siteID int64, until time.Time) (bool, error) {
	res := db.gorm.WithContext(ctx).Model(&siteRow{}).Where("id = ? AND "+leaseFree, siteID, db.now()).
		Update("webhooks_lease_until", until.UTC())
	return res.RowsAffected == 1, dbError(res.Error, "site")
}

// ReleaseWebhooks ends the webhook lease of a site and sets when the sweep next looks at it.
func (db *DB) ReleaseWebhooks(ctx context.Context, siteID int64, next time.Time) error {
	err := db.gorm.WithContext(ctx).Model(&siteRow{}).Where("id = ?", siteID).
		Updates(map[string]any{"webhooks_due_at": next.UTC(), "webhooks_lease_until": nil}).Error
	return dbError(err, "site")
}

type auditRow struct {
	ID        int64 `gorm:"primaryKey"`
	SiteID    int64
	Action    string
	Detail    string
	CreatedAt time.Time
}

func (auditRow) TableName() string { return "audit_events" }

func audit(tx *gorm.DB, siteID int64, action, detail string, now time.Time) error {
	return tx.Create(&auditRow{SiteID: siteID, Action: action, Detail: detail, CreatedAt: now}).Error
}

// AuditEvent is one line of a site's audit trail.
type AuditEvent struct {
	Action, Detail string
	At             time.Time
}

// AuditTrail lists a site's audit events, oldest first.
func (db *DB) AuditTrail(ctx context.Context, siteID int64) ([]AuditEvent, error) {
	var rows []auditRow
	if err := db.gorm.WithContext(ctx).Where("site_id = ?", siteID).Order("id").Find(&rows).Error; err != nil {
		return nil, dbError(err, "audit events")
	}
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = AuditEvent{Action: r.Action, Detail: r.Detail, At: r.CreatedAt}
	}
	return out, nil
}

// MarkReconnectNeeded records that Thinkific refused the site's refresh token: Stride can
// no longer call Thinkific for the site until an admin installs it again.
func (db *DB) MarkReconnectNeeded(ctx context.Context, siteID int64) error {
	now := db.now()
	err := db.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&siteRow{}).Where("id = ? AND reconnect_needed_at IS NULL", siteID).Update("reconnect_needed_at", now)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return audit(tx, siteID, "reconnect_needed", "Thinkific refused the refresh token", now)
	})
	return dbError(err, "site")
}

// SetWebhooksDue sets when the sweep next reconciles a site's webhooks.
func (db *DB) SetWebhooksDue(ctx context.Context, siteID int64, at time.Time) error {
	err := db.gorm.WithContext(ctx).Model(&siteRow{}).Where("id = ?", siteID).Update("webhooks_due_at", at.UTC()).Error
	return dbError(err, "site")
}
