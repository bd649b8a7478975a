// Package store keeps Stride's data with GORM, on PostgreSQL or on an embedded SQLite file.
// It is the only package that knows SQL; callers see domain types and *stride.Error.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/migrations"
)

// Options say which database to open and what the store needs to seal secrets.
type Options struct {
	DatabaseURL string // PostgreSQL; "" means SQLite in DataDir
	DataDir     string
	MaxConns    int             // PostgreSQL pool size; 0 means defaultMaxConns
	Keys        *secret.Keyring // needed to read or write tokens and install states
	Clock       stride.Clock
	Logger      *slog.Logger
}

// defaultMaxConns is small because Heroku's smallest PostgreSQL plans allow 20 connections
// in all, for every dyno, the release phase and psql together.
const defaultMaxConns = 5

// DB is Stride's database.
type DB struct {
	gorm     *gorm.DB
	sql      *sql.DB
	postgres bool
	keys     *secret.Keyring
	clock    stride.Clock
	log      *slog.Logger
}

// Open connects to the database. It does not migrate: call Migrate or CheckMigrated.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Clock == nil {
		o.Clock = stride.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Discard, // queries carry sealed tokens: never log them
		SkipDefaultTransaction: true,           // we open transactions where they are needed
		NowFunc:                func() time.Time { return o.Clock.Now().UTC() },
		TranslateError:         true,
	}
	var dialector gorm.Dialector
	if o.DatabaseURL != "" {
		dialector = postgres.Open(withSessionSettings(o.DatabaseURL))
	} else {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: data directory: %w", err)
		}
		// WAL lets readers run beside the writer; immediate transactions take the write lock
		// at BEGIN, so two writers queue on busy_timeout instead of failing to upgrade.
		dsn := "file:" + uriPath(filepath.Join(o.DataDir, "stride.db")) +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
			"&_pragma=synchronous(FULL)&_txlock=immediate&_time_format=sqlite"
		dialector = sqlite.Open(dsn)
	}
	g, err := gorm.Open(dialector, gcfg)
	if err != nil {
		return nil, stride.Wrap(stride.EUNAVAILABLE, err, "database unreachable")
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if o.DatabaseURL != "" {
		if o.MaxConns <= 0 {
			o.MaxConns = defaultMaxConns
		}
		sqlDB.SetMaxOpenConns(o.MaxConns)
		sqlDB.SetMaxIdleConns(o.MaxConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	db := &DB{gorm: g, sql: sqlDB, postgres: o.DatabaseURL != "", keys: o.Keys, clock: o.Clock, log: o.Logger}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// withSessionSettings sets what every Stride connection runs with, unless the URL says
// otherwise. Stride's reads are small and index-driven: parallel workers only add their
// start-up time (measured: a 5,000-row course page took 66 ms with them, 13 ms without).
func withSessionSettings(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	if q.Get("max_parallel_workers_per_gather") == "" {
		q.Set("max_parallel_workers_per_gather", "0")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// uriPath escapes a file path for an SQLite URI: unescaped, a '#' or '?' in DATA_DIR would
// cut the path short and open another file.
func uriPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

// Postgres reports whether the store runs on PostgreSQL (else SQLite).
func (db *DB) Postgres() bool { return db.postgres }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return stride.Wrap(stride.EUNAVAILABLE, err, "database unreachable")
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.sql.Close() }

func (db *DB) migrations() (*goose.Provider, error) {
	dir, dialect := "sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.postgres {
		dir, dialect = "postgres", goose.DialectPostgres
		// Two releases migrating at once take turns.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db.sql, fsys, opts...)
}

// Migrate applies every pending migration and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	p, err := db.migrations()
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("store: migrate: %w", err)
	}
	return len(res), nil
}

// CheckMigrated fails when the schema is behind this binary.
func (db *DB) CheckMigrated(ctx context.Context) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("store: reading schema version: %w", err)
	}
	if pending {
		current, _ := p.GetDBVersion(ctx)
		sources := p.ListSources()
		return fmt.Errorf("store: the database schema is at version %d, this binary needs %d: run `stride migrate`",
			current, sources[len(sources)-1].Version)
	}
	return nil
}

// tx runs fn in one transaction. On SQLite it first takes the write lock: the driver ignores
// _txlock=immediate when _time_format is also set, and a deferred transaction that reads and
// then writes fails at once with SQLITE_BUSY, without waiting, when another connection wrote
// in between. A write statement that changes nothing takes the lock and honours busy_timeout.
func (db *DB) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if !db.postgres {
			if err := tx.Exec("DELETE FROM goose_db_version WHERE 0").Error; err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// now is the store's clock in UTC: SQLite compares times as text, so one zone for all.
func (db *DB) now() time.Time { return db.clock.Now().UTC() }

// dbError turns driver errors into domain errors: "not found" is an error, never (nil, nil).
func dbError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return stride.Errorf(stride.ENOTFOUND, "%s not found", what)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return stride.Wrap(stride.EUNAVAILABLE, err, "database did not answer in time")
	default:
		var se *stride.Error
		if errors.As(err, &se) {
			return err
		}
		return stride.Wrap(stride.EUNAVAILABLE, err, "database error")
	}
}

var lockSkipLocked = clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}

// Gorm is the underlying handle, for tests and tools that check the database directly.
// Application code goes through the store's methods.
func (db *DB) Gorm() *gorm.DB { return db.gorm }

// retryConflicts runs fn again, twice at most, when PostgreSQL aborted it for a deadlock or
// a serialization failure: the transaction did nothing, and a second try usually passes.
func (db *DB) retryConflicts(fn func() error) error {
	var err error
	for range 3 {
		var pg *pgconn.PgError
		if err = fn(); !errors.As(err, &pg) || (pg.Code != "40P01" && pg.Code != "40001") {
			return err
		}
	}
	return err
}

func notFound(what string) error { return stride.Errorf(stride.ENOTFOUND, "%s not found", what) }
