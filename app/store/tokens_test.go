package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
)

// After SECRET_KEY rotates, two processes re-sealing at once in small batches re-seal
// every site exactly once, and the tokens then open without the old key.
func TestResealTokens(t *testing.T) {
	ctx := context.Background()
	newKey := bytes.Repeat([]byte{10}, 32)
	rotated, _ := secret.NewKeyring(newKey, bytes.Repeat([]byte{9}, 32)) // testKeys' master
	newOnly, _ := secret.NewKeyring(newKey)
	open := func(t *testing.T, url, dir string, keys *secret.Keyring) *store.DB {
		db, err := store.Open(ctx, store.Options{DatabaseURL: url, DataDir: dir, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	run := func(t *testing.T, url, dir string) {
		before := openDB(t, url, dir)
		var ids []int64
		for i := range 5 {
			ids = append(ids, install(t, before, fmt.Sprintf("s%d", i), fmt.Sprintf("gid-%d", i), fmt.Sprintf("tok%d", i)).ID)
		}
		var resealed atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			db := open(t, url, dir, rotated)
			wg.Go(func() {
				for after := int64(0); ; {
					r, err := db.ResealTokens(ctx, after, 2)
					if err != nil {
						t.Error(err)
						return
					}
					resealed.Add(int64(r.Sites))
					if r.Last == 0 {
						return
					}
					after = r.Last
				}
			})
		}
		wg.Wait()
		if n := resealed.Load(); n != 5 {
			t.Fatalf("re-sealed %d times, want 5", n)
		}
		after := open(t, url, dir, newOnly)
		for i, id := range ids {
			tok, err := after.Tokens(ctx, id)
			if err != nil || tok.Access != fmt.Sprintf("tok%d", i) || tok.Refresh != fmt.Sprintf("refresh-tok%d", i) {
				t.Fatalf("site %d after the re-seal: %+v %v", id, tok, err)
			}
		}
		if r, err := after.ResealTokens(ctx, 0, 2); err != nil || r.Sites != 0 {
			t.Fatalf("nothing left to re-seal, yet: %+v %v", r, err)
		}
	}
	t.Run("postgres", func(t *testing.T) { run(t, testdb.Postgres(t), "") })
	t.Run("sqlite", func(t *testing.T) { run(t, "", t.TempDir()) })
}
