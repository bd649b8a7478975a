package store

import (
	"context"
	"time"

	"github.com/strideapp/stride/app/stride"
)

// UseLaunch records that the launch link whose MAC hashes to macHash has been used, until
// expiresAt, when the link is refused as stale anyway. A second use, from any process, is
// ECONFLICT. Records past their expiry are deleted on the way: launches are rare, and the
// index on expires_at keeps that cheap.
func (db *DB) UseLaunch(ctx context.Context, macHash string, expiresAt time.Time) error {
	g := db.gorm.WithContext(ctx)
	if err := g.Exec("DELETE FROM launch_uses WHERE expires_at < ?", db.now()).Error; err != nil {
		return dbError(err, "launch")
	}
	res := g.Exec("INSERT INTO launch_uses (mac_hash, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING", macHash, expiresAt.UTC())
	if res.Error != nil {
		return dbError(res.Error, "launch")
	}
	if res.RowsAffected == 0 {
		return stride.Errorf(stride.ECONFLICT, "launch link already used")
	}
	return nil
}
