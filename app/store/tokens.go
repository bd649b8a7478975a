package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

type tokenRow struct {
	SiteID       int64 `gorm:"primaryKey;autoIncrement:false"`
	KeyID        string
	AccessToken  []byte
	RefreshToken []byte
	ExpiresAt    time.Time
	UpdatedAt    time.Time
}

func (tokenRow) TableName() string { return "site_tokens" }

// tokenAAD binds a sealed token to its site and field: copied to another row, it won't open.
func tokenAAD(siteID int64, field string) []byte {
	return fmt.Appendf(nil, "site_tokens:%d:%s", siteID, field)
}

func (db *DB) putTokens(tx *gorm.DB, siteID int64, t stride.Tokens) error {
	keyID, access := db.keys.Seal([]byte(t.Access), tokenAAD(siteID, "access"))
	_, refresh := db.keys.Seal([]byte(t.Refresh), tokenAAD(siteID, "refresh"))
	row := tokenRow{SiteID: siteID, KeyID: keyID, AccessToken: access, RefreshToken: refresh,
		ExpiresAt: t.Expiry.UTC(), UpdatedAt: db.now()}
	return tx.Save(&row).Error
}

func (db *DB) openTokens(row *tokenRow) (stride.Tokens, error) {
	access, err := db.keys.Open(row.KeyID, row.AccessToken, tokenAAD(row.SiteID, "access"))
	if err != nil {
		return stride.Tokens{}, stride.Wrap(stride.EINTERNAL, err, "stored tokens cannot be read")
	}
	refresh, err := db.keys.Open(row.KeyID, row.RefreshToken, tokenAAD(row.SiteID, "refresh"))
	if err != nil {
		return stride.Tokens{}, stride.Wrap(stride.EINTERNAL, err, "stored tokens cannot be read")
	}
	return stride.Tokens{Access: string(access), Refresh: string(refresh), Expiry: row.ExpiresAt}, nil
}

// Tokens returns a site's tokens in clear. A site without tokens (uninstalled) is ENOTFOUND.
func (db *DB) Tokens(ctx context.Context, siteID int64) (stride.Tokens, error) {
	var row tokenRow
	if err := db.gorm.WithContext(ctx).Take(&row, "site_id = ?", siteID).Error; err != nil {
		return stride.Tokens{}, dbError(err, "tokens")
	}
	return db.openTokens(&row)
}

// UpdateTokens lets fn replace a site's tokens while holding the site's token row locked,
// so that across every process only one refresh runs per site at a time and the rotated
// refresh token is saved in the same transaction that read the old one. fn sees the tokens
// as they are now (perhaps already refreshed by someone else) and returns the ones to keep.
func (db *DB) UpdateTokens(ctx context.Context, siteID int64, fn func(current stride.Tokens) (stride.Tokens, error)) (stride.Tokens, error) {
	var kept stride.Tokens
	err := db.tx(ctx, func(tx *gorm.DB) error {
		// A no-op write takes the lock on both databases: a row lock on PostgreSQL, the
		// write lock on SQLite (whose transactions already begin IMMEDIATE).
		res := tx.Exec("UPDATE site_tokens SET updated_at = updated_at WHERE site_id = ?", siteID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return stride.Errorf(stride.ENOTFOUND, "tokens not found")
		}
		var row tokenRow
		if err := tx.Take(&row, "site_id = ?", siteID).Error; err != nil {
			return err
		}
		current, err := db.openTokens(&row)
		if err != nil {
			return err
		}
		next, err := fn(current)
		if err != nil {
			return err
		}
		kept = next
		if next == current {
			return nil
		}
		return db.putTokens(tx, siteID, next)
	})
	return kept, dbError(err, "tokens")
}

// Resealed is what one ResealTokens pass did.
type Resealed struct {
	Sites      int   // tokens now sealed under the current key
	Unreadable int   // rows under a retired key that did not open with it (left as they are)
	Last       int64 // the last site looked at: the next pass starts after it; 0 when done
}

// ResealTokens seals again, under the current key, the tokens of up to limit sites after
// site id `after` that a retired key sealed. Each row is rewritten only if its key id is
// still the retired one, so passes in several processes, or beside a token refresh, never
// overwrite each other's work; on PostgreSQL rows locked by someone else are skipped.
func (db *DB) ResealTokens(ctx context.Context, after int64, limit int) (Resealed, error) {
	var res Resealed
	retired := db.keys.Retired()
	if len(retired) == 0 {
		return res, nil
	}
	err := db.tx(ctx, func(tx *gorm.DB) error {
		res = Resealed{}
		q := tx.Where("site_id > ? AND key_id IN ?", after, retired).Order("site_id").Limit(limit)
		if db.postgres {
			q = q.Clauses(lockSkipLocked)
		}
		var rows []tokenRow
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			row := &rows[i]
			res.Last = row.SiteID
			t, err := db.openTokens(row)
			if err != nil {
				res.Unreadable++
				continue
			}
			keyID, access := db.keys.Seal([]byte(t.Access), tokenAAD(row.SiteID, "access"))
			_, refresh := db.keys.Seal([]byte(t.Refresh), tokenAAD(row.SiteID, "refresh"))
			up := tx.Exec("UPDATE site_tokens SET key_id = ?, access_token = ?, refresh_token = ? WHERE site_id = ? AND key_id = ?",
				keyID, access, refresh, row.SiteID, row.KeyID)
			if up.Error != nil {
				return up.Error
			}
			res.Sites += int(up.RowsAffected)
		}
		if len(rows) < limit {
			res.Last = 0
		}
		return nil
	})
	return res, dbError(err, "tokens")
}
