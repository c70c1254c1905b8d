package sqlsource

import (
	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/source"
)

// The configuration of the SQL sources: their keys in sources.yaml, which
// reach Config through source.Decode. TestSpecMatchesConfig keeps the two
// in step.
func init() {
	for _, s := range []spec.Spec{
		{Name: "postgres", Summary: "A PostgreSQL table or query, extracted with COPY (query) TO STDOUT.", Fields: sqlFields("5432")},
		{Name: "mysql", Summary: "A MySQL or MariaDB table or query, its rows streamed.", Fields: sqlFields("3306")},
		{Name: "cloudsql", Summary: "A Cloud SQL database: a PostgreSQL or MySQL one, as its engine says.",
			Fields: append([]spec.Field{{Name: "engine", Type: spec.String, Required: true, Enum: []string{"postgres", "mysql"},
				Doc: "The database engine."}}, sqlFields("5432 (postgres) or 3306 (mysql)")...)},
	} {
		s.Kind = spec.KindSource
		s.Extracting = true
		s.OneOf = [][]string{{"table", "query"}}
		s.AnyOf = [][]string{{"host", "dsn"}}
		spec.Register(s)
	}
}

// sqlFields are the keys of a SQL source; port is its default port, for
// the reference.
func sqlFields(port string) []spec.Field {
	return []spec.Field{
		{Name: "dsn", Type: spec.String, Example: "${ORDERS_DSN}",
			Doc: "A connection string (a URL, or the driver's key=value or user@tcp(host)/db form) instead of host, port, database and user."},
		{Name: "host", Type: spec.String, Example: "10.0.0.5", Doc: "The server's host name or address."},
		{Name: "port", Type: spec.Int, Doc: "The server's port; " + port + " when not set."},
		{Name: "database", Type: spec.String, Doc: "The database."},
		{Name: "user", Type: spec.String, Doc: "The user to connect as."},
		{Name: "password_env", Type: spec.SecretEnv, Example: "ORDERS_PASSWORD", Doc: "The environment variable that holds the password."},
		{Name: "password_file", Type: spec.SecretFile, Doc: "A file that holds the password (a trailing newline is dropped)."},
		{Name: "tls", Type: spec.Object, Doc: "The connection's encryption.", Fields: []spec.Field{
			{Name: "mode", Type: spec.String, Enum: []string{"disable", "require", "verify-ca", "verify-full"},
				Doc: "`require` encrypts without verifying the server; `verify-full` (the default with a ca_file) also checks its name."},
			{Name: "ca_file", Type: spec.String, Doc: "PEM certificates of the authorities to trust."},
			{Name: "cert_file", Type: spec.String, Doc: "A client certificate (PEM), with key_file."},
			{Name: "key_file", Type: spec.String, Doc: "The client certificate's key (PEM)."},
			{Name: "server_name", Type: spec.String, Doc: "The name to verify instead of host."},
		}},
		{Name: "table", Type: spec.String, Example: "public.orders", Doc: "The table to extract."},
		{Name: "query", Type: spec.String, Example: "SELECT * FROM orders WHERE region = 'EU'",
			Doc: "A query to extract instead of a table; `{{params.NAME}}` is bound as a query parameter."},
		{Name: "incremental", Type: spec.Object,
			Doc: "Extract only the rows after the last run's watermark; without it every run reads every row.",
			Fields: []spec.Field{
				{Name: "column", Type: spec.String, Required: true, Doc: "A timestamp, date or increasing integer column."},
				{Name: "lookback", Type: spec.Any, Example: "2h",
					Doc: "Re-read rows this far behind the watermark, for late commits: a duration, or a number for an integer column."},
				{Name: "initial", Type: spec.String, Doc: "The first run's watermark; empty reads every row."},
			}},
		{Name: "key", Type: spec.String, Doc: "An indexed column to split a large extraction by (keyset paging); needed by chunk_size."},
		{Name: "chunk_size", Type: spec.Int, Doc: "Rows per chunk (one staged file, retried as a whole); 0 extracts in one chunk."},
		source.RetryField(),
		{Name: "rate_limit", Type: spec.Number, Doc: "Queries per second; 0 for no limit."},
		{Name: "timeout", Type: spec.Duration, Example: "30m", Doc: "Bounds each attempt; 0 for none."},
	}
}
