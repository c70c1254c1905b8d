package metadata

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations ("shp meta" in ASCII).
const migrationLockKey = 0x736870206d657461

// postgresDialect numbers its placeholders and takes an advisory lock in
// each migration transaction.
var postgresDialect = dialect{
	name:           "postgres",
	dollarParams:   true,
	lockMigrations: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
}

// openPostgres opens the PostgreSQL store at dsn, a URL or key=value pairs
// that pgx accepts, through pgx's database/sql adapter. Its tables
// live in the first schema of the search path, which the DSN may set
// (search_path=...). Its errors have the DSN's passwords masked.
func openPostgres(ctx context.Context, dsn string) (Store, error) {
	s, err := openPostgresDB(ctx, dsn)
	if err != nil {
		return nil, redactError(fmt.Errorf("open postgres metadata store %s: %w", RedactDSN(dsn), err), dsn)
	}
	return s, nil
}

// openPostgresDB opens and migrates the PostgreSQL store at dsn.
func openPostgresDB(ctx context.Context, dsn string) (Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("%w: empty DSN", ErrInvalid)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	return newSQLStore(ctx, stdlib.OpenDB(*cfg), postgresDialect)
}
