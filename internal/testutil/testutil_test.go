package testutil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fakeTB records what a helper asked of its test instead of stopping it.
type fakeTB struct {
	testing.TB
	skipped, fatal bool
	msg            string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) {
	f.skipped = true
	f.msg = fmt.Sprint(args...)
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = true
	f.msg = fmt.Sprintf(format, args...)
}

// env returns a getenv that reads m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// closedPort returns a local TCP address that refuses connections.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestFailInCI(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		want bool
	}{
		{"", false},
		{"true", true},
		{"TRUE", true},
		{" true\n", true},
		{"false", false},
		{"1", false},
		{"yes", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.ci), func(t *testing.T) {
			if got := failInCI(tc.ci); got != tc.want {
				t.Errorf("failInCI(%q) = %v, want %v", tc.ci, got, tc.want)
			}
		})
	}
}

func TestPostgresDSN(t *testing.T) {
	var schema string
	t.Run("isolated", func(t *testing.T) {
		dsn := PostgresDSN(t)
		if !strings.Contains(dsn, "search_path=shp_test_testpostgresdsn_isolated_") {
			t.Fatalf("DSN %q has no search_path of the test's schema", dsn)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dsn, "search_path="+schema) {
			t.Errorf("current_schema() = %q, not the DSN's", schema)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Fatal(err)
		}
		// A second schema of the same test is another schema.
		if other := PostgresDSN(t); other == dsn {
			t.Errorf("two calls returned the same DSN %q", dsn)
		}
	})
	if schema == "" {
		t.Skip("no schema was created")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, serverDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after its test", schema)
	}
}

// serverDSN returns the DSN of the server the tests use.
func serverDSN() string {
	if v := os.Getenv(PostgresDSNEnv); v != "" {
		return v
	}
	return DefaultPostgresDSN
}

func TestPostgresDSNUnreachable(t *testing.T) {
	down := "postgres://postgres:s3cret@" + closedPort(t) + "/test?sslmode=disable"
	for _, tc := range []struct {
		name              string
		env               map[string]string
		wantSkip, wantErr bool
		wantMsg           string
	}{
		{"skips", map[string]string{PostgresDSNEnv: down}, true, false, "PostgreSQL not reachable at postgres://postgres:xxxxx@"},
		{"fails in CI", map[string]string{PostgresDSNEnv: down, "CI": "true"}, false, true, "; set " + PostgresDSNEnv},
		{"bad DSN", map[string]string{PostgresDSNEnv: "postgres://x:99999999/"}, false, true, PostgresDSNEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			if dsn := postgresDSN(f, env(tc.env)); dsn != "" {
				t.Errorf("DSN = %q, want none", dsn)
			}
			if f.skipped != tc.wantSkip || f.fatal != tc.wantErr {
				t.Errorf("skipped=%v fatal=%v, want %v %v (%s)", f.skipped, f.fatal, tc.wantSkip, tc.wantErr, f.msg)
			}
			if !strings.Contains(f.msg, tc.wantMsg) || strings.Contains(f.msg, "s3cret") {
				t.Errorf("message %q: want it to contain %q and no password", f.msg, tc.wantMsg)
			}
		})
	}
}

func TestMySQLDSN(t *testing.T) {
	// A reachable server is TestMySQLDSNDefault's case.
	down := "root:s3cret@tcp(" + closedPort(t) + ")/test"
	for _, tc := range []struct {
		name              string
		env               map[string]string
		want              string
		wantSkip, wantErr bool
	}{
		{"skips", map[string]string{MySQLDSNEnv: down}, "", true, false},
		{"fails in CI", map[string]string{MySQLDSNEnv: down, "CI": "true"}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			if got := mysqlDSN(f, env(tc.env)); got != tc.want {
				t.Errorf("DSN = %q, want %q", got, tc.want)
			}
			if f.skipped != tc.wantSkip || f.fatal != tc.wantErr {
				t.Errorf("skipped=%v fatal=%v, want %v %v (%s)", f.skipped, f.fatal, tc.wantSkip, tc.wantErr, f.msg)
			}
			if f.msg != "" && (!strings.Contains(f.msg, "MariaDB not reachable at root:xxxxx@tcp(") || strings.Contains(f.msg, "s3cret")) {
				t.Errorf("message %q", f.msg)
			}
		})
	}
}

func TestMySQLDSNDefault(t *testing.T) {
	// The real server may or may not be here: either outcome is right.
	f := &fakeTB{TB: t}
	got := mysqlDSN(f, env(nil))
	switch {
	case got == "" && f.skipped && strings.Contains(f.msg, "MariaDB not reachable at "+DefaultMySQLDSN):
		return
	case !strings.HasPrefix(got, "root@tcp(127.0.0.1:3306)/shp_test_testmysqldsndefault_") || f.skipped || f.fatal:
		t.Fatalf("DSN %q, skipped=%v fatal=%v: %s", got, f.skipped, f.fatal, f.msg)
	}
	// The test's own database exists and is the DSN's default.
	db, err := sql.Open("mysql", got)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&name); err != nil || !strings.HasSuffix(got, "/"+name) {
		t.Fatalf("database %q (%v) for DSN %s", name, err, got)
	}
}

func TestMySQLAddr(t *testing.T) {
	for _, tc := range []struct {
		dsn, network, addr string
	}{
		{"root@tcp(127.0.0.1:3306)/test", "tcp", "127.0.0.1:3306"},
		{"u:p@w@tcp(db:3307)/x?parseTime=true", "tcp", "db:3307"},
		{"u:p@/x", "tcp", "127.0.0.1:3306"},
		{"u@unix(/run/mysqld.sock)/x", "unix", "/run/mysqld.sock"},
		{"u@unix/x", "unix", "/tmp/mysql.sock"},
		{"u@tcp()/x", "tcp", "127.0.0.1:3306"},
		{"", "tcp", "127.0.0.1:3306"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			network, addr := mysqlAddr(tc.dsn)
			if network != tc.network || addr != tc.addr {
				t.Errorf("mysqlAddr(%q) = %q %q, want %q %q", tc.dsn, network, addr, tc.network, tc.addr)
			}
		})
	}
}

func TestSchemaName(t *testing.T) {
	for _, tc := range []struct {
		test, prefix string
	}{
		{"TestX", "shp_test_testx_"},
		{"TestStore/sqlite/Runs#01", "shp_test_teststore_sqlite_runs_01_"},
		{"___", "shp_test__"},
		{strings.Repeat("a", 100), "shp_test_" + strings.Repeat("a", 40) + "_"},
	} {
		t.Run(tc.test, func(t *testing.T) {
			got := schemaName(tc.test)
			if !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+12 || len(got) > 63 {
				t.Errorf("schemaName(%q) = %q, want %q and 12 hex digits, at most 63 bytes", tc.test, got, tc.prefix)
			}
			if again := schemaName(tc.test); again == got {
				t.Errorf("schemaName(%q) twice gave %q", tc.test, got)
			}
		})
	}
}

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct {
		dsn, want string
	}{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s&sslmode=disable"},
		{"postgres://u@h/db?search_path=old", "postgres://u@h/db?search_path=s"},
		{"host=h user=u dbname=db ", "host=h user=u dbname=db search_path=s"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			if got := withSearchPath(tc.dsn, "s"); got != tc.want {
				t.Errorf("withSearchPath(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		dsn, want string
	}{
		{"postgres://u:pw@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"host=h password=pw user=u", "host=h password=xxxxx user=u"},
		{"host=h password='p w' user=u", "host=h password=xxxxx user=u"},
		{"root:pw@tcp(h:3306)/db", "root:xxxxx@tcp(h:3306)/db"},
		{"root@tcp(h:3306)/db", "root@tcp(h:3306)/db"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			if got := redact(tc.dsn); got != tc.want {
				t.Errorf("redact(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
		})
	}
}

func TestUnreachableMessage(t *testing.T) {
	f := &fakeTB{TB: t}
	unreachable(f, env(nil), "PostgreSQL", "there", errors.New("boom"), PostgresDSNEnv)
	want := "PostgreSQL not reachable at there: boom; set " + PostgresDSNEnv
	if !f.skipped || f.msg != want {
		t.Errorf("skipped=%v msg=%q, want %q", f.skipped, f.msg, want)
	}
}
