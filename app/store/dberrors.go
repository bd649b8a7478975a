package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Transient reports whether err is the database's moment rather than the data's fault: a
// lost or refused connection, a database restarting or out of resources, a lock timeout, a
// deadlock, SQLite's busy writer, a context that ended. The same work may succeed if tried
// again, so it never counts against an event.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case strings.HasPrefix(pg.Code, "08"), // connection exception
			strings.HasPrefix(pg.Code, "53"),       // insufficient resources
			strings.HasPrefix(pg.Code, "57P"),      // admin shutdown, crash, cannot connect now
			pg.Code == "40001", pg.Code == "40P01", // serialization failure, deadlock
			pg.Code == "55P03", pg.Code == "57014": // lock not available, statement timeout
			return true
		}
		return false
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // primary result code
		case 5, 6, 10, 13: // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var connect *pgconn.ConnectError
	return errors.As(err, &connect)
}

// Refused reports whether the database refused the data itself — a value it cannot hold
// (a NUL in text, a number out of range, bad encoding) or a broken constraint. Trying the
// same event again can only fail the same way.
func Refused(err error) bool {
	// GORM translates some constraint errors into its own.
	if errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, gorm.ErrForeignKeyViolated) || errors.Is(err, gorm.ErrCheckConstraintViolated) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 18, 19, 20, 25: // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE
			return true
		}
	}
	return false
}
