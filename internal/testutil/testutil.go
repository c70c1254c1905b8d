// Package testutil gives tests the databases of the local machine:
// a fresh PostgreSQL schema per test, and the MariaDB DSN.
//
// When a server is not reachable, a test is skipped, except in CI
// (CI=true), where it fails: CI must run every test.
package testutil

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

const (
	// DefaultPostgresDSN is the PostgreSQL server tests use unless
	// PostgresDSNEnv names another.
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// PostgresDSNEnv is the environment variable that overrides
	// DefaultPostgresDSN.
	PostgresDSNEnv = "SHP_TEST_POSTGRES_DSN"
	// DefaultMySQLDSN is the MariaDB server tests use unless MySQLDSNEnv
	// names another, in the github.com/go-sql-driver/mysql form.
	DefaultMySQLDSN = "root@tcp(127.0.0.1:3306)/test"
	// MySQLDSNEnv is the environment variable that overrides
	// DefaultMySQLDSN.
	MySQLDSNEnv = "SHP_TEST_MYSQL_DSN"
	// ConnectTimeout bounds the check that a server is reachable.
	ConnectTimeout = 3 * time.Second
)

// PostgresDSN returns the DSN of a schema of its own for the test, on the
// server of SHP_TEST_POSTGRES_DSN or DefaultPostgresDSN: the schema is
// created now, is first in the DSN's search_path, and is dropped with
// everything in it when the test ends. When the server is not reachable
// the test is skipped, or fails in CI (CI=true).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresDSN(t, os.Getenv)
}

// MySQLDSN returns the DSN of a database of its own for the test, on the
// MariaDB server of SHP_TEST_MYSQL_DSN or DefaultMySQLDSN: the database is
// created now and dropped when the test ends. When the server is not
// reachable the test is skipped, or fails in CI (CI=true).
func MySQLDSN(t testing.TB) string {
	t.Helper()
	return mysqlDSN(t, os.Getenv)
}

func postgresDSN(t testing.TB, getenv func(string) string) string {
	t.Helper()
	base := getenv(PostgresDSNEnv)
	if base == "" {
		base = DefaultPostgresDSN
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("testutil: %s: %v", PostgresDSNEnv, err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		unreachable(t, getenv, "PostgreSQL", redact(base), err, PostgresDSNEnv)
		return ""
	}
	defer conn.Close(context.Background())

	schema := schemaName(t.Name())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("testutil: create schema %s: %v", schema, err)
		return ""
	}
	t.Cleanup(func() {
		if err := dropSchema(cfg, schema); err != nil {
			t.Errorf("testutil: %v", err)
		}
	})
	return withSearchPath(base, schema)
}

// dropSchema drops a test's schema and everything in it.
func dropSchema(cfg *pgx.ConnConfig, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

func mysqlDSN(t testing.TB, getenv func(string) string) string {
	t.Helper()
	dsn := getenv(MySQLDSNEnv)
	if dsn == "" {
		dsn = DefaultMySQLDSN
	}
	network, addr := mysqlAddr(dsn)
	conn, err := net.DialTimeout(network, addr, ConnectTimeout)
	if err != nil {
		unreachable(t, getenv, "MariaDB", redact(dsn), err, MySQLDSNEnv)
		return ""
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("testutil: close connection to %s: %v", addr, err)
		return ""
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("testutil: %s: %v", MySQLDSNEnv, err)
		return ""
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("testutil: %v", err)
		return ""
	}
	defer db.Close()
	name := schemaName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("testutil: create database %s: %v", name, err)
		return ""
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("testutil: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("testutil: drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// mysqlAddr returns the network and address of a MySQL driver DSN,
// user:password@protocol(address)/dbname; the default is TCP to
// 127.0.0.1:3306.
func mysqlAddr(dsn string) (network, addr string) {
	network, addr = "tcp", "127.0.0.1:3306"
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		slash = len(dsn)
	}
	rest := dsn[:slash]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	proto, a, ok := strings.Cut(rest, "(")
	if proto != "" {
		network = proto
	}
	if ok {
		if a = strings.TrimSuffix(a, ")"); a != "" {
			addr = a
		}
	}
	if network == "unix" && !ok {
		addr = "/tmp/mysql.sock"
	}
	return network, addr
}

// failInCI reports whether a missing server fails the test rather than
// skipping it, from the value of the CI environment variable.
func failInCI(ci string) bool {
	return strings.EqualFold(strings.TrimSpace(ci), "true")
}

// unreachable skips the test, or fails it in CI, because a server is not
// reachable.
func unreachable(t testing.TB, getenv func(string) string, what, where string, err error, env string) {
	t.Helper()
	msg := fmt.Sprintf("%s not reachable at %s: %v; set %s", what, where, err, env)
	if failInCI(getenv("CI")) {
		t.Fatalf("%s", msg)
		return
	}
	t.Skip(msg)
}

// unsafeSchemaChars are the characters a schema name is made without.
var unsafeSchemaChars = regexp.MustCompile(`[^a-z0-9_]+`)

// schemaName returns a new, unique schema name that tells the test.
func schemaName(testName string) string {
	name := strings.Trim(unsafeSchemaChars.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "shp_test_" + name + "_" + hex.EncodeToString(b[:])
}

// withSearchPath returns the PostgreSQL DSN with its search_path set to
// schema, in URL or key=value form.
func withSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && strings.Contains(dsn, "://") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// redact masks the password of a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && strings.Contains(dsn, "://") {
		return u.Redacted()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}${2}xxxxx")
}

// kvPassword finds a password in a key=value or MySQL driver DSN.
var kvPassword = regexp.MustCompile(`(?i)((?:^|\s)password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S*)|^([^:@/=\s]*:)[^@]*`)

// PostgresExec runs statements on a PostgreSQL DSN, failing the test at
// the first error.
func PostgresExec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// MySQLExec runs statements on a MySQL or MariaDB DSN, failing the test
// at the first error.
func MySQLExec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// MySQLOrders are the statements that make issue 17's MariaDB benchmark
// table, orders, with rows rows: a BIGINT UNSIGNED key, DECIMAL(20,6),
// BIGINT UNSIGNED values above 2^63, INT, DATETIME, text with quotes in
// one row of ten and JSON (NULL in one of three). It needs MariaDB's
// Sequence engine (seq_1_to_N).
func MySQLOrders(rows int) []string {
	return []string{
		`CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(20,6) NOT NULL, big BIGINT UNSIGNED,
			qty INT, at DATETIME, note VARCHAR(64), doc JSON)`,
		fmt.Sprintf(`INSERT INTO orders SELECT seq, seq * 12.345678 / 7, 18446744073000000000 DIV (1 + seq %% 5) + seq,
			seq %% 1000, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT('order note ', seq, IF(seq %% 10 = 0, ', with "quotes"', '')),
			IF(seq %% 3 = 0, NULL, JSON_OBJECT('k', seq, 'tags', JSON_ARRAY('a', 'b'))) FROM seq_1_to_%d`, rows),
		`ANALYZE TABLE orders`,
	}
}

// Tool returns the path of a command the test runs (promtool, say),
// looked up on PATH; without it the test is skipped, or fails under
// CI=true (.ci/run installs what CI needs).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s is not installed: %v", name, err)
		if failInCI(os.Getenv("CI")) {
			t.Fatalf("%s", msg)
		}
		t.Skip(msg)
	}
	return path
}
