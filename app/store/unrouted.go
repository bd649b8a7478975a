package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

// Unrouted is a signed delivery that names no installed site: one that raced a reinstall,
// or whose signed site is not the one its unsigned header names. It is held, not dropped,
// until a site with its route key is installed (or the delivery log's retention ends).
type Unrouted struct {
	RouteKey   string // RouteByGID or RouteBySubdomain of what the delivery says
	EventID    string
	Topic      string
	Body       []byte
	Status     string // the inbox status it takes once routed
	Reason     string
	ReceivedAt time.Time
}

// RouteByGID and RouteBySubdomain are the route keys of a held delivery: the site its
// signed body names (tenant_global_id), or, when the body names none, its header's.
func RouteByGID(gid string) string             { return "gid:" + gid }
func RouteBySubdomain(subdomain string) string { return "subdomain:" + subdomain }

// HoldUnrouted keeps a delivery no site can take yet; false when it was held before.
func (db *DB) HoldUnrouted(ctx context.Context, u Unrouted) (bool, error) {
	res := db.write(ctx).Exec(`INSERT INTO inbox_unrouted (route_key, event_id, topic, body, status, reason, received_at)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (route_key, event_id) DO NOTHING`,
		u.RouteKey, u.EventID, u.Topic, u.Body, u.Status, u.Reason, u.ReceivedAt.UTC())
	return res.RowsAffected == 1, dbError(res.Error, "held deliveries")
}

// AdoptUnrouted moves held deliveries into the inbox of the installed site they name, and
// returns how many it moved. A held app.uninstalled is dropped instead: it came while no
// installation was there to end. Several processes may run it at once: the delete that claims a
// row decides which one moves it, and the inbox's uniqueness keeps an event once.
func (db *DB) AdoptUnrouted(ctx context.Context) (int, error) {
	var rows []struct {
		ID     int64
		SiteID int64
	}
	// A cheap probe first: the table is empty almost always.
	var probe []int64
	if err := db.reader(ctx).Raw("SELECT id FROM inbox_unrouted LIMIT 1").Scan(&probe).Error; err != nil || len(probe) == 0 {
		return 0, dbError(err, "held deliveries")
	}
	err := db.reader(ctx).Raw(`SELECT u.id, s.id AS site_id FROM inbox_unrouted u
		JOIN sites s ON s.uninstalled_at IS NULL AND (u.route_key = 'gid:' || s.gid OR u.route_key = 'subdomain:' || s.subdomain)
		ORDER BY u.id LIMIT 500`).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return 0, dbError(err, "held deliveries")
	}
	moved := 0
	err = db.tx(ctx, func(tx *gorm.DB) error {
		for _, r := range rows {
			var held []Unrouted
			if err := tx.Raw(`DELETE FROM inbox_unrouted WHERE id = ?
				RETURNING event_id, topic, body, status, received_at`, r.ID).Scan(&held).Error; err != nil {
				return err
			}
			if len(held) == 0 {
				continue // another process moved it
			}
			h := held[0]
			if h.Topic == stride.TopicAppUninstalled {
				// It was held because its site was not installed: it ended an installation
				// that is already gone, and must not end the one that adopts it.
				continue
			}
			res := tx.Exec(`INSERT INTO inbox (site_id, event_id, topic, body, status, next_attempt_at, received_at)
				VALUES (?,?,?,?,?,?,?) ON CONFLICT (site_id, event_id) DO NOTHING`,
				r.SiteID, h.EventID, h.Topic, h.Body, h.Status, db.now(), h.ReceivedAt.UTC())
			if res.Error != nil {
				return res.Error
			}
			moved += int(res.RowsAffected)
		}
		return nil
	})
	return moved, dbError(err, "held deliveries")
}
