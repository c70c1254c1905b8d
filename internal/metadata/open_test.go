package metadata

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/testutil"
)

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	mustNil(t, os.WriteFile(notDir, []byte("x"), 0o644))
	garbage := filepath.Join(dir, "garbage.db")
	mustNil(t, os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o644))
	for _, tc := range []struct {
		name, path, wantErr string
		wantIs              error
	}{
		{"empty path", "", "open sqlite metadata store", ErrInvalid},
		{"folder is a file", filepath.Join(notDir, "m.db"), "create its folder", nil},
		{"not a database", garbage, "open sqlite metadata store " + garbage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), KindSQLite, tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Errorf("Open(%q) = %v, want an error saying %q", tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
	}{
		{"special characters", filepath.Join(dir, "a?b#c d%20e.db")},
		{"relative", filepath.Join(mustRel(t, dir), "rel", "m.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := backend{kind: KindSQLite}.open(t, tc.path)
			mustNil(t, s.SetWatermark(context.Background(), "p", "k", "v"))
			abs, err := filepath.Abs(tc.path)
			mustNil(t, err)
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("the database is not at %s: %v", abs, err)
			}
		})
	}
}

func mustRel(t *testing.T, dir string) string {
	t.Helper()
	wd, err := os.Getwd()
	mustNil(t, err)
	rel, err := filepath.Rel(wd, dir)
	mustNil(t, err)
	return rel
}

func TestSQLiteMemory(t *testing.T) {
	s := backend{kind: KindSQLite}.open(t, ":memory:")
	ctx := context.Background()
	mustNil(t, s.CreateRun(ctx, Run{ID: "r", Pipeline: "p"}))
	for range 3 { // the one connection keeps the database
		if _, err := s.GetRun(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := backend{kind: KindSQLite}.open(t, filepath.Join(t.TempDir(), "m.db")).(*sqlStore)
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
	} {
		t.Run(tc.pragma, func(t *testing.T) {
			var got string
			mustNil(t, s.db.QueryRowContext(context.Background(), "PRAGMA "+tc.pragma).Scan(&got))
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
}

func TestOpenPostgresErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustNil(t, err)
	closed := l.Addr().String()
	mustNil(t, l.Close())
	for _, tc := range []struct {
		name, dsn, wantErr string
		wantIs             error
	}{
		{"empty", "", "empty DSN", ErrInvalid},
		{"unparsable", "postgres://u:s3cret@h:notaport/db", "parse DSN", nil},
		{"unparsable key value", "host=h password=s3cret port=x", "parse DSN", nil},
		{"unreachable", "postgres://u:s3cret@" + closed + "/db?sslmode=disable&connect_timeout=3", "open postgres metadata store postgres://u:xxxxx@", nil},
		{"unreachable key value", "host=127.0.0.1 port=" + closed[strings.LastIndex(closed, ":")+1:] + " password='s3cret' sslmode=disable", "connect", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), KindPostgres, tc.dsn)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Errorf("Open = %v, want an error saying %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestOpenPostgresNoSchema opens a search path without a schema to create
// tables in.
func TestOpenPostgresNoSchema(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	dsn = strings.Replace(dsn, "search_path=", "search_path=no_such_schema_", 1)
	_, err := Open(context.Background(), KindPostgres, dsn)
	if err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Errorf("Open without a schema = %v, want a migration error", err)
	}
}

// TestPingSQLiteBusy holds a database locked while another connection
// turns it to WAL, which SQLite does not wait for.
func TestPingSQLiteBusy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		unlock   time.Duration // when the lock is released; 0: never
		cancel   bool
		wantBusy bool
	}{
		{"gives up", 0, false, true},
		{"cancelled", 0, true, true},
		{"tries again", 50 * time.Millisecond, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "m.db")
			holder, err := sql.Open("sqlite", path)
			mustNil(t, err)
			defer holder.Close()
			conn, err := holder.Conn(ctx)
			mustNil(t, err)
			defer conn.Close()
			_, err = conn.ExecContext(ctx, "CREATE TABLE t (x INTEGER); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)")
			mustNil(t, err)
			if tc.unlock > 0 {
				time.AfterFunc(tc.unlock, func() { _, _ = conn.ExecContext(ctx, "COMMIT") })
			}

			db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
			mustNil(t, err)
			defer db.Close()
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if tc.cancel {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			err = pingSQLite(pctx, db, 300*time.Millisecond)
			if isBusy(err) != tc.wantBusy {
				t.Errorf("pingSQLite = %v, want busy %v", err, tc.wantBusy)
			}
			if tc.cancel && !errors.Is(err, context.Canceled) {
				t.Errorf("pingSQLite = %v, want it cancelled", err)
			}
		})
	}
}

func TestIsBusy(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"other", errors.New("database is locked"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isBusy(tc.err); got != tc.want {
				t.Errorf("isBusy(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
