package metadata

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name     string
		fs       fstest.MapFS
		versions []int
		wantErr  string
	}{
		{"ordered by version", fstest.MapFS{
			"m/0010_c.sql": file("c"), "m/0002_b.sql": file("b"), "m/0001_a.sql": file("a"),
			"m/README.md": file("not a migration"), "m/0003_dir.sql/x": file("in a folder"),
		}, []int{1, 2, 10}, ""},
		{"empty", fstest.MapFS{"m/README": file("")}, nil, ""},
		{"missing folder", fstest.MapFS{}, nil, "read migrations m"},
		{"no version", fstest.MapFS{"m/init.sql": file("")}, nil, "migration init.sql: name must start"},
		{"version zero", fstest.MapFS{"m/0000_init.sql": file("")}, nil, "migration 0000_init.sql: name must start"},
		{"same version", fstest.MapFS{"m/0001_a.sql": file(""), "m/1_b.sql": file("")}, nil, "have the same version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.fs, "m")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadMigrations = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			mustNil(t, err)
			var versions []int
			for _, m := range ms {
				versions = append(versions, m.version)
				if m.sql != string(tc.fs["m/"+m.name].Data) {
					t.Errorf("migration %s has text %q", m.name, m.sql)
				}
			}
			if len(versions) != len(tc.versions) || (len(versions) > 0 && !equalInts(versions, tc.versions)) {
				t.Errorf("versions %v, want %v", versions, tc.versions)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEmbeddedMigrations checks that both dialects have the same versions.
func TestEmbeddedMigrations(t *testing.T) {
	var versions [][]int
	for _, d := range []dialect{sqliteDialect, postgresDialect} {
		ms, err := loadMigrations(migrationFiles, "migrations/"+d.name)
		mustNil(t, err)
		if len(ms) == 0 {
			t.Fatalf("%s has no migrations", d.name)
		}
		var vs []int
		for _, m := range ms {
			vs = append(vs, m.version)
		}
		versions = append(versions, vs)
	}
	if !equalInts(versions[0], versions[1]) {
		t.Errorf("sqlite migrations %v, postgres %v: want the same versions", versions[0], versions[1])
	}
}

// migrationRows returns the versions and application times recorded.
func migrationRows(t *testing.T, s Store) map[int]time.Time {
	t.Helper()
	ss := s.(*sqlStore)
	rows, err := ss.db.QueryContext(context.Background(), "SELECT version, applied_at FROM schema_migrations")
	mustNil(t, err)
	defer rows.Close()
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		mustNil(t, rows.Scan(&v, scanTime(&at)))
		out[v] = at
	}
	mustNil(t, rows.Err())
	return out
}

func TestMigrationsAppliedOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			target := b.target(t)
			first := migrationRows(t, b.open(t, target))
			ms, err := loadMigrations(migrationFiles, "migrations/"+b.kind)
			mustNil(t, err)
			if len(first) != len(ms) {
				t.Fatalf("schema_migrations has %v, want %d migrations", first, len(ms))
			}
			for v, at := range first {
				if at.IsZero() || time.Since(at) > time.Minute {
					t.Errorf("migration %d applied at %v", v, at)
				}
			}
			// Data survives a re-open, which applies nothing.
			s := b.open(t, target)
			mustNil(t, s.SetWatermark(context.Background(), "p", "k", "v"))
			again := migrationRows(t, b.open(t, target))
			if len(again) != len(first) {
				t.Errorf("after re-opening schema_migrations has %v, want %v", again, first)
			}
			for v, at := range first {
				if !again[v].Equal(at) {
					t.Errorf("migration %d applied again at %v (first at %v)", v, again[v], at)
				}
			}
			if v, ok, err := s.GetWatermark(context.Background(), "p", "k"); err != nil || !ok || v != "v" {
				t.Errorf("GetWatermark = %q, %v, %v", v, ok, err)
			}
		})
	}
}

func TestConcurrentOpen(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			target := b.target(t)
			const n = 6
			stores := make([]Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stores[i], errs[i] = Open(context.Background(), b.kind, target)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("concurrent Open %d: %v", i, err)
					continue
				}
				t.Cleanup(func() { mustNil(t, stores[i].Close()) })
			}
			if t.Failed() {
				return
			}
			ms, err := loadMigrations(migrationFiles, "migrations/"+b.kind)
			mustNil(t, err)
			if got := migrationRows(t, stores[0]); len(got) != len(ms) {
				t.Errorf("schema_migrations has %v, want %d migrations", got, len(ms))
			}
		})
	}
}

func TestSchemaTooNew(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			target := b.target(t)
			s := b.open(t, target).(*sqlStore)
			_, err := s.db.ExecContext(context.Background(),
				s.d.rebind("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"), 9999, s.d.timeArg(time.Now()))
			mustNil(t, err)
			_, err = Open(context.Background(), b.kind, target)
			if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "9999") {
				t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew naming version 9999", err)
			}
		})
	}
}

// TestFailedMigration checks that a failing migration leaves nothing of
// itself and keeps the migrations before it.
func TestFailedMigration(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			s := b.open(t, b.target(t)).(*sqlStore)
			ctx := context.Background()
			ms := []migration{
				{version: 1, name: "0001_a.sql", sql: "CREATE TABLE extra_a (x INTEGER)"},
				{version: 2, name: "0002_b.sql", sql: "CREATE TABLE extra_b (x INTEGER); CREATE TABLE broken ("},
			}
			// Start from an empty schema_migrations: this store's own
			// migration 1 is recorded there.
			_, err := s.db.ExecContext(ctx, "DELETE FROM schema_migrations")
			mustNil(t, err)
			err = s.applyMigrations(ctx, ms)
			if err == nil || !strings.Contains(err.Error(), "apply migration 0002_b.sql") {
				t.Fatalf("applyMigrations = %v, want an error naming 0002_b.sql", err)
			}
			got := migrationRows(t, s)
			if _, ok := got[1]; !ok || len(got) != 1 {
				t.Errorf("schema_migrations has %v, want only version 1", got)
			}
			if _, err := s.db.ExecContext(ctx, "SELECT x FROM extra_a"); err != nil {
				t.Errorf("migration 1 was not kept: %v", err)
			}
			if _, err := s.db.ExecContext(ctx, "SELECT x FROM extra_b"); err == nil {
				t.Error("the failed migration 2 left its table")
			}
		})
	}
}

func TestMigrateCancelled(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			s := b.open(t, b.target(t)).(*sqlStore)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.migrate(ctx); err == nil || !strings.Contains(err.Error(), "schema_migrations") {
				t.Errorf("migrate with a cancelled context = %v", err)
			}
		})
	}
}
