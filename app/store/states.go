package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

// PendingInstall is an install started at /install and not yet back at /oauth/callback.
type PendingInstall struct {
	StateHash   string // hash of the OAuth state; the state itself is never stored
	Subdomain   string
	BrowserHash string // hash of the nonce in the browser's install cookie
	Verifier    string // PKCE verifier, sealed at rest
	ExpiresAt   time.Time
}

type stateRow struct {
	StateHash   string `gorm:"primaryKey"`
	Subdomain   string
	BrowserHash string
	KeyID       string
	Verifier    []byte
	ExpiresAt   time.Time
	UsedAt      *time.Time
	CreatedAt   time.Time
}

func (stateRow) TableName() string { return "oauth_states" }

func stateAAD(hash string) []byte { return []byte("oauth_states:" + hash) }

// CreatePendingInstall stores a new pending install.
func (db *DB) CreatePendingInstall(ctx context.Context, p PendingInstall) error {
	keyID, verifier := db.keys.Seal([]byte(p.Verifier), stateAAD(p.StateHash))
	row := stateRow{StateHash: p.StateHash, Subdomain: p.Subdomain, BrowserHash: p.BrowserHash,
		KeyID: keyID, Verifier: verifier, ExpiresAt: p.ExpiresAt.UTC(), CreatedAt: db.now()}
	return dbError(db.gorm.WithContext(ctx).Create(&row).Error, "install state")
}

// ConsumePendingInstall marks a pending install used and returns it. An unknown, used or
// expired state is an EINVALID error; whichever it was, the state cannot be used again.
func (db *DB) ConsumePendingInstall(ctx context.Context, stateHash string) (PendingInstall, error) {
	now := db.now()
	var p PendingInstall
	err := db.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&stateRow{}).Where("state_hash = ? AND used_at IS NULL", stateHash).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return stride.Errorf(stride.EINVALID, "This install link is unknown or was already used. Please start the install again.")
		}
		var row stateRow
		if err := tx.Take(&row, "state_hash = ?", stateHash).Error; err != nil {
			return err
		}
		if !now.Before(row.ExpiresAt) {
			return stride.Errorf(stride.EINVALID, "This install link has expired. Please start the install again.")
		}
		verifier, err := db.keys.Open(row.KeyID, row.Verifier, stateAAD(row.StateHash))
		if err != nil {
			return stride.Wrap(stride.EINTERNAL, err, "install state cannot be read")
		}
		p = PendingInstall{StateHash: row.StateHash, Subdomain: row.Subdomain, BrowserHash: row.BrowserHash,
			Verifier: string(verifier), ExpiresAt: row.ExpiresAt}
		return nil
	})
	return p, dbError(err, "install state")
}

// DeleteExpiredPendingInstalls removes states that can no longer be used.
func (db *DB) DeleteExpiredPendingInstalls(ctx context.Context) (int64, error) {
	res := db.gorm.WithContext(ctx).Where("expires_at < ?", db.now().Add(-time.Hour)).Delete(&stateRow{})
	return res.RowsAffected, dbError(res.Error, "install states")
}
