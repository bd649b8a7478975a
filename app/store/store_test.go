package store_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/migrations"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var testKeys, _ = secret.NewKeyring(bytes.Repeat([]byte{9}, 32))

// eachDB runs fn against a fresh, migrated PostgreSQL database and a fresh SQLite file.
func eachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("postgres", func(t *testing.T) { fn(t, openDB(t, testdb.Postgres(t), "")) })
	t.Run("sqlite", func(t *testing.T) { fn(t, openDB(t, "", t.TempDir())) })
}

func openDB(t *testing.T, url, dir string) *store.DB { return openDBAt(t, url, dir, nil) }

// openDBAt is openDB on clock (nil: the system's).
func openDBAt(t *testing.T, url, dir string, clock stride.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: url, DataDir: dir, Keys: testKeys, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		if err := db.CheckMigrated(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, %v", n, err)
		}
	})
	t.Run("unmigrated postgres is refused", func(t *testing.T) {
		db, err := store.Open(ctx, store.Options{DatabaseURL: testdb.Postgres(t), Keys: testKeys})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.CheckMigrated(ctx); err == nil || !strings.Contains(err.Error(), "stride migrate") {
			t.Fatalf("got %v", err)
		}
	})
}

// Both folders must hold the same versions: one schema on two databases.
func TestMigrationFoldersAgree(t *testing.T) {
	list := func(dir string) []string {
		entries, err := fs.ReadDir(migrations.FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return names
	}
	pg, lite := list("postgres"), list("sqlite")
	if strings.Join(pg, ",") != strings.Join(lite, ",") {
		t.Fatalf("postgres has %v, sqlite has %v", pg, lite)
	}
}

func install(t *testing.T, db *store.DB, sub, gid, access string) *stride.Site {
	t.Helper()
	s, _, err := db.SaveInstall(context.Background(), store.Grant{Subdomain: sub, GID: gid,
		Tokens: stride.Tokens{Access: access, Refresh: "refresh-" + access, Expiry: time.Now().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSaveInstall(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		a := install(t, db, "acme", "gid-a", "tok1")
		again, known, err := db.SaveInstall(ctx, store.Grant{Subdomain: "acme", GID: "gid-a",
			Tokens: stride.Tokens{Access: "tok2", Refresh: "ref2", Expiry: time.Now().Add(time.Hour)}})
		if err != nil || !known || again.ID != a.ID {
			t.Fatalf("reinstall: %+v known=%v %v", again, known, err)
		}
		tok, err := db.Tokens(ctx, a.ID)
		if err != nil || tok.Access != "tok2" || tok.Refresh != "ref2" {
			t.Fatalf("tokens after reinstall: %+v %v", tok, err)
		}
		// A new tenant that now owns the subdomain takes it; the old row loses its tokens.
		b := install(t, db, "acme", "gid-b", "tokB")
		if b.ID == a.ID {
			t.Fatal("a different gid reused the old site")
		}
		got, err := db.SiteBySubdomain(ctx, "acme")
		if err != nil || got.ID != b.ID {
			t.Fatalf("subdomain lookup: %+v %v", got, err)
		}
		if _, err := db.Tokens(ctx, a.ID); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("old tenant kept tokens: %v", err)
		}
		if _, err := db.SiteBySubdomain(ctx, "nobody"); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("unknown subdomain: %v", err)
		}
		trail, _ := db.AuditTrail(ctx, a.ID)
		if len(trail) != 3 || trail[0].Action != "installed" || trail[1].Action != "install_renewed" || trail[2].Action != "subdomain_released" {
			t.Fatalf("audit trail %+v", trail)
		}
	})
}

// Holders of one site's tokens claiming its refresh at once: one gets the lease, and only
// the lease holder's pair is saved; a lease that lapsed or was ended by an install saves
// nothing, and a successful save clears "reconnect needed".
func TestTokenRefreshLease(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		s := install(t, db, "acme", "gid-a", "old")
		until := time.Now().Add(time.Minute)
		var wg sync.WaitGroup
		var claims atomic.Int32
		for range 8 {
			wg.Go(func() {
				cur, ok, err := db.ClaimTokenRefresh(ctx, s.ID, until)
				if err != nil || cur.Access != "old" {
					t.Errorf("claim: %+v %v", cur, err)
				}
				if ok {
					claims.Add(1)
				}
			})
		}
		wg.Wait()
		if n := claims.Load(); n != 1 {
			t.Fatalf("%d claims, want 1", n)
		}
		if err := db.MarkReconnectNeeded(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SaveRefreshedTokens(ctx, s.ID, until.Add(time.Second), stride.Tokens{Access: "not-the-holder", Refresh: "x", Expiry: until}); err != nil {
			t.Fatal(err)
		}
		if tok, _ := db.Tokens(ctx, s.ID); tok.Access != "old" {
			t.Fatalf("a pair without the lease was saved: %q", tok.Access)
		}
		got, err := db.SaveRefreshedTokens(ctx, s.ID, until, stride.Tokens{Access: "new", Refresh: "new-refresh", Expiry: until})
		if err != nil || got.Access != "new" {
			t.Fatalf("%+v %v", got, err)
		}
		if tok, _ := db.Tokens(ctx, s.ID); tok.Access != "new" || tok.Refresh != "new-refresh" {
			t.Fatalf("stored %q", tok.Access)
		}
		if site, _ := db.Site(ctx, s.ID); site.ReconnectNeeded {
			t.Fatal("a saved refresh left the site marked reconnect needed")
		}
		// The save ended the lease: the next refresh can claim it.
		if _, ok, _ := db.ClaimTokenRefresh(ctx, s.ID, until); !ok {
			t.Fatal("the lease was not ended by the save")
		}
		// An install meanwhile replaces the tokens and ends the lease: the refresh's pair is
		// older than the install's and is dropped.
		install(t, db, "acme", "gid-a", "installed")
		if got, _ := db.SaveRefreshedTokens(ctx, s.ID, until, stride.Tokens{Access: "late", Refresh: "late", Expiry: until}); got.Access != "installed" {
			t.Fatalf("kept %q", got.Access)
		}
	})
}

func TestClaimWebhookSweep(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		install(t, db, "a", "gid-a", "x")
		install(t, db, "b", "gid-b", "y")
		next := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := db.ClaimWebhookSweep(ctx, next, 10)
				if err != nil {
					t.Error(err)
				}
				counts[i] = len(got)
			}()
		}
		wg.Wait()
		if total := counts[0] + counts[1] + counts[2] + counts[3]; total != 2 {
			t.Fatalf("claimed %v, want 2 in all", counts)
		}
		if again, _ := db.ClaimWebhookSweep(ctx, next, 10); len(again) != 0 {
			t.Fatalf("claimed again: %d", len(again))
		}
	})
}

func TestWebhooks(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		s := install(t, db, "a", "gid-a", "x")
		w := stride.Webhook{SiteID: s.ID, Topic: "lesson.completed", ExternalID: "1", TargetURL: "https://x/webhooks/thinkific", Status: stride.WebhookActive}
		if err := db.SaveWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		w.Status, w.LastError = stride.WebhookFailed, "url is not valid"
		if err := db.SaveWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		got, err := db.Webhooks(ctx, s.ID)
		if err != nil || len(got) != 1 || got[0].Status != stride.WebhookFailed || got[0].LastError != "url is not valid" {
			t.Fatalf("%+v %v", got, err)
		}
	})
}

// Tokens are sealed: neither the SQLite file nor a PostgreSQL dump contains them.
func TestTokensNotStoredInClear(t *testing.T) {
	const access, refresh = "ACCESS-7c1e4b2f9a", "REFRESH-0d9e8f7a6b"
	check := func(t *testing.T, blob []byte) {
		for _, secret := range []string{access, refresh} {
			if bytes.Contains(blob, []byte(secret)) {
				t.Fatalf("found %s in the database", secret)
			}
		}
		if !bytes.Contains(blob, []byte("gid-sealed")) {
			t.Fatal("the dump does not hold the site at all: the check proves nothing")
		}
	}
	store1 := func(db *store.DB) {
		_, _, err := db.SaveInstall(context.Background(), store.Grant{Subdomain: "sealed", GID: "gid-sealed",
			Tokens: stride.Tokens{Access: access, Refresh: refresh, Expiry: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		db := openDB(t, "", dir)
		store1(db)
		db.Close()
		var all []byte
		files, _ := filepath.Glob(filepath.Join(dir, "stride.db*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		check(t, all)
	})
	t.Run("postgres", func(t *testing.T) {
		url := testdb.Postgres(t)
		store1(openDB(t, url, ""))
		dump := "pg_dump"
		if _, err := exec.LookPath(dump); err != nil {
			dump = "/usr/lib/postgresql/15/bin/pg_dump"
		}
		out, err := exec.Command(dump, "--data-only", url).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		check(t, out)
	})
}

// A data directory whose name has URI characters still opens the right file.
func TestSQLitePathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd#dir?x=%41")
	db := openDB(t, "", dir)
	install(t, db, "a", "gid-a", "x")
	db.Close()
	if _, err := os.Stat(filepath.Join(dir, "stride.db")); err != nil {
		t.Fatalf("the database is not where DATA_DIR says: %v", err)
	}
}

// A site's webhook lease is held by one reconcile at a time: the sweep skips a leased site,
// a second claim fails, and a lease that lapsed (its holder died) can be taken again.
func TestWebhookLease(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		s := install(t, db, "a", "gid-a", "x")
		if ok, err := db.ClaimWebhooks(ctx, s.ID, time.Now().Add(time.Hour)); !ok || err != nil {
			t.Fatalf("first claim: %v %v", ok, err)
		}
		if ok, _ := db.ClaimWebhooks(ctx, s.ID, time.Now().Add(time.Hour)); ok {
			t.Fatal("a second claim took a held lease")
		}
		if got, _ := db.ClaimWebhookSweep(ctx, time.Now().Add(time.Hour), 10); len(got) != 0 {
			t.Fatal("the sweep claimed a leased site")
		}
		if err := db.ReleaseWebhooks(ctx, s.ID, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.ClaimWebhookSweep(ctx, time.Now().Add(-time.Millisecond), 10); len(got) != 1 {
			t.Fatal("the sweep did not claim the released site")
		}
		// The sweep's lease above has already lapsed.
		if ok, _ := db.ClaimWebhooks(ctx, s.ID, time.Now().Add(time.Hour)); !ok {
			t.Fatal("a lapsed lease could not be claimed")
		}
	})
}
