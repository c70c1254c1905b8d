package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// sqliteDialect stores times as INTEGER Unix microseconds. Its
// transactions begin IMMEDIATE (see sqliteDSN), which serialises
// concurrent migrations.
var sqliteDialect = dialect{name: "sqlite", unixMicros: true}

// sqliteMemory is the target of an in-memory SQLite store.
const sqliteMemory = ":memory:"

// sqliteParams are the DSN parameters of every SQLite connection: WAL so
// that readers do not block the writer, a 5s wait for a locked database,
// foreign keys enforced, and transactions that take the write lock when
// they begin, so that one never fails to upgrade its read lock.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// sqliteDSN returns the modernc.org/sqlite DSN of the database file path,
// which must be absolute or ":memory:".
func sqliteDSN(path string) string {
	if path == sqliteMemory {
		return sqliteMemory + "?" + sqliteParams
	}
	// A file: URI, so that a path holding '?' or '#' stays whole.
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + sqliteParams
}

// openSQLite opens the SQLite store in the file path, creating the file and
// its folder when they are missing. The path ":memory:" opens a private
// in-memory store.
func openSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open sqlite metadata store: %w: empty path", ErrInvalid)
	}
	if path != sqliteMemory {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("open sqlite metadata store %s: %w", path, err)
		}
		path = abs
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("open sqlite metadata store %s: create its folder: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite metadata store %s: %w", path, err)
	}
	if path == sqliteMemory {
		// Each connection to ":memory:" is a database of its own.
		db.SetMaxOpenConns(1)
	}
	if err := pingSQLite(ctx, db, sqliteBusyTimeout); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite metadata store %s: connect: %w", path, err), db.Close())
	}
	s, err := newSQLStore(ctx, db, sqliteDialect)
	if err != nil {
		return nil, fmt.Errorf("open sqlite metadata store %s: %w", path, err)
	}
	return s, nil
}

// sqliteBusyTimeout is how long an SQLite connection waits for a lock, as
// busy_timeout in sqliteParams says.
const sqliteBusyTimeout = 5 * time.Second

// sqliteBusy is SQLite's primary result code SQLITE_BUSY.
const sqliteBusy = 5

// pingSQLite connects to the database, trying again for up to wait while
// it is busy. Turning a new database to WAL needs a lock that SQLite does
// not wait for, so concurrent first opens of one file can find it busy.
func pingSQLite(ctx context.Context, db *sql.DB, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	delay := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if !isBusy(err) || time.Now().Add(delay).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, with any extended
// code.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteBusy
}
