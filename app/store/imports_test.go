package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// TestSitesInstalledBeforeImportsGetOne: a release that brings the import queues one for
// every site installed before it, with lesson history from its install.
func TestSitesInstalledBeforeImportsGetOne(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"postgres", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			url, dir := "", t.TempDir()
			if kind == "postgres" {
				url = testdb.Postgres(t)
			}
			db, err := store.Open(ctx, store.Options{DatabaseURL: url, DataDir: dir, Keys: testKeys})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.MigrateTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			installed := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			for i, gone := range []bool{false, true} {
				var uninstalled any
				if gone {
					uninstalled = installed.Add(time.Hour)
				}
				if err := db.Gorm().Exec(`INSERT INTO sites (subdomain, gid, installed_at, uninstalled_at, webhooks_due_at, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`, []string{"old", "gone"}[i], []string{"g-old", "g-gone"}[i], installed, uninstalled,
					installed, installed, installed).Error; err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"old", "gone"} {
				site, err := db.SiteBySubdomain(ctx, sub)
				if err != nil {
					t.Fatal(err)
				}
				imp, err := db.ImportOf(ctx, site.ID)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case sub == "gone" && imp != nil:
					t.Fatal("an uninstalled site got an import")
				case sub == "old" && (imp == nil || imp.State != store.ImportQueued || !imp.FullImport || !imp.HistoryFrom.Equal(installed)):
					t.Fatalf("the installed site's import: %+v", imp)
				}
			}
			if imp, err := db.ClaimImport(ctx, 0, time.Now().Add(time.Minute)); err != nil || imp == nil {
				t.Fatalf("the queued import cannot be claimed: %v %v", imp, err)
			}
		})
	}
}
