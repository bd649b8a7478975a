// Package store keeps Stride's data with GORM, on PostgreSQL or on an embedded SQLite file.
// It is the only package that knows SQL; callers see domain types and *stride.Error.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
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
	MaxConns    int             // PostgreSQL pool size (DATABASE_MAX_CONNECTIONS); 0 sets no limit
	Keys        *secret.Keyring // needed to read or write tokens and install states
	Clock       stride.Clock    // nil means the system clock
}

// DB is Stride's database.
type DB struct {
	gorm     *gorm.DB // every write, and reads that must see them
	sql      *sql.DB
	read     *gorm.DB // dashboard reads and lookups; on SQLite a separate, read-only pool
	readSQL  *sql.DB  // nil when read shares gorm's pool
	postgres bool
	keys     *secret.Keyring
	clock    stride.Clock
}

// Open connects to the database. It does not migrate: call Migrate or CheckMigrated.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Clock == nil {
		o.Clock = stride.SystemClock{}
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Discard, // queries carry sealed tokens: never log them
		SkipDefaultTransaction: true,           // we open transactions where they are needed
		NowFunc:                func() time.Time { return o.Clock.Now().UTC() },
		TranslateError:         true,
	}
	db := &DB{postgres: o.DatabaseURL != "", keys: o.Keys, clock: o.Clock}
	var err error
	if db.postgres {
		if db.gorm, db.sql, err = openPool(postgres.Open(withSessionSettings(o.DatabaseURL)), gcfg); err != nil {
			return nil, err
		}
		if o.MaxConns > 0 {
			db.sql.SetMaxOpenConns(o.MaxConns)
			db.sql.SetMaxIdleConns(o.MaxConns)
		}
		db.sql.SetConnMaxIdleTime(5 * time.Minute)
		db.read = db.gorm
	} else {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: data directory: %w", err)
		}
		// SQLite takes one writer at a time. Stride's writes share one connection, so they
		// queue in the pool (bounded by each caller's context) instead of meeting
		// SQLITE_BUSY; WAL lets the read-only pool read beside them. (No _txlock: this
		// driver ignores it beside _time_format, and with one writer it is not needed.)
		file := "file:" + uriPath(filepath.Join(o.DataDir, "stride.db"))
		common := "&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_format=sqlite"
		if db.gorm, db.sql, err = openPool(sqlite.Open(file+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"+common), gcfg); err != nil {
			return nil, err
		}
		db.sql.SetMaxOpenConns(1)
		if db.read, db.readSQL, err = openPool(sqlite.Open(file+"?_pragma=query_only(1)"+common), gcfg); err != nil {
			db.sql.Close()
			return nil, err
		}
		db.readSQL.SetMaxOpenConns(4)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPool(d gorm.Dialector, cfg *gorm.Config) (*gorm.DB, *sql.DB, error) {
	g, err := gorm.Open(d, cfg)
	if err != nil {
		return nil, nil, stride.Wrap(stride.EUNAVAILABLE, err, "database unreachable")
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, nil, err
	}
	return g, sqlDB, nil
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

// Close closes the connection pools.
func (db *DB) Close() error {
	if db.readSQL != nil {
		db.readSQL.Close()
	}
	return db.sql.Close()
}

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

// tx runs fn in one transaction, which first takes the write lock (takeWriter).
func (db *DB) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.takeWriter(tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// takeWriter takes SQLite's write lock at the start of a transaction: a process's writes
// share one connection, but a second process on the same file (a worker beside the server)
// has its own, and a deferred transaction that reads and then writes fails at once with
// SQLITE_BUSY, without waiting, when the other wrote in between. A write that changes
// nothing takes the lock at the start and honours busy_timeout. (The driver ignores
// _txlock=immediate beside _time_format.) PostgreSQL needs nothing.
func (db *DB) takeWriter(tx *gorm.DB) error {
	if db.postgres {
		return nil
	}
	return tx.Exec("DELETE FROM goose_db_version WHERE 0").Error
}

// write is the handle for a write outside a transaction (on SQLite, the one writer).
func (db *DB) write(ctx context.Context) *gorm.DB { return db.gorm.WithContext(ctx) }

// reader is the handle for reads that need not see this process's latest write at once
// (pages, lookups): on SQLite they do not wait for the writer.
func (db *DB) reader(ctx context.Context) *gorm.DB { return db.read.WithContext(ctx) }

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

// Gorm is the underlying handle, for tests only: they check the database directly. The
// application and the tools go through the store's methods.
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
