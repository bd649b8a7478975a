package store_test

import (
	"context"
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// The PostgreSQL pool is as large as DATABASE_MAX_CONNECTIONS says (config holds its small
// default: Heroku's smallest plans allow 20 connections for every process together).
func TestPoolSize(t *testing.T) {
	url := testdb.Postgres(t)
	for _, tc := range []struct{ set, want int }{{3, 3}, {40, 40}} {
		db, err := store.Open(context.Background(), store.Options{DatabaseURL: url, MaxConns: tc.set, Keys: testKeys})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, _ := db.Gorm().DB()
		if got := sqlDB.Stats().MaxOpenConnections; got != tc.want {
			t.Errorf("MaxConns %d: pool of %d, want %d", tc.set, got, tc.want)
		}
		db.Close()
	}
}
