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
	// RefreshLeaseUntil is held by the refresh under way, in whichever process.
	RefreshLeaseUntil *time.Time
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

// refreshFree is the condition that no refresh holds a token row's lease.
const refreshFree = "(refresh_lease_until IS NULL OR refresh_lease_until <= ?)"

// ClaimTokenRefresh leases the refresh of a site's tokens until `until`, unless another
// refresh holds the lease, and returns the tokens as they are now. The claim is one
// conditional update, committed at once: nothing stays locked while Thinkific is asked
// for the new pair. Only the holder may save the pair (SaveRefreshedTokens), so across every
// process one refresh per site runs at a time.
func (db *DB) ClaimTokenRefresh(ctx context.Context, siteID int64, until time.Time) (stride.Tokens, bool, error) {
	res := db.gorm.WithContext(ctx).Model(&tokenRow{}).Where("site_id = ? AND "+refreshFree, siteID, db.now()).
		Update("refresh_lease_until", leaseTime(until))
	if res.Error != nil {
		return stride.Tokens{}, false, dbError(res.Error, "tokens")
	}
	t, err := db.Tokens(ctx, siteID)
	return t, res.RowsAffected == 1, err
}

// SaveRefreshedTokens saves the pair a refresh got and ends its lease, provided the lease
// (claimed until `until`) is still the row's; if it is not (an install replaced the tokens
// meanwhile, which are newer), nothing is written. It returns the tokens now stored.
func (db *DB) SaveRefreshedTokens(ctx context.Context, siteID int64, until time.Time, t stride.Tokens) (stride.Tokens, error) {
	keyID, access := db.keys.Seal([]byte(t.Access), tokenAAD(siteID, "access"))
	_, refresh := db.keys.Seal([]byte(t.Refresh), tokenAAD(siteID, "refresh"))
	var saved bool
	err := db.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&tokenRow{}).Where("site_id = ? AND refresh_lease_until = ?", siteID, leaseTime(until)).
			Updates(map[string]any{"key_id": keyID, "access_token": access, "refresh_token": refresh,
				"expires_at": t.Expiry.UTC(), "updated_at": db.now(), "refresh_lease_until": nil})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		saved = true
		return tx.Model(&siteRow{}).Where("id = ?", siteID).Update("reconnect_needed_at", nil).Error
	})
	if err != nil {
		return stride.Tokens{}, dbError(err, "tokens")
	}
	if saved {
		return t, nil
	}
	return db.Tokens(ctx, siteID)
}

// ReleaseTokenRefresh ends a refresh lease claimed until `until` without saving anything.
func (db *DB) ReleaseTokenRefresh(ctx context.Context, siteID int64, until time.Time) error {
	err := db.gorm.WithContext(ctx).Model(&tokenRow{}).Where("site_id = ? AND refresh_lease_until = ?", siteID, leaseTime(until)).
		Update("refresh_lease_until", nil).Error
	return dbError(err, "tokens")
}

// leaseTime is a lease's end as both databases store it exactly (microseconds, UTC), so
// the holder can name its lease by it.
func leaseTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

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
