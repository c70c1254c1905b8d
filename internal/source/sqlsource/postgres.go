package sqlsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/schema"
)

// pgEngine extracts from PostgreSQL over one connection, reconnecting
// after a failure.
type pgEngine struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

func newPostgres(c Config, password string) (*pgEngine, error) {
	var cfg *pgx.ConnConfig
	var err error
	if c.DSN != "" {
		cfg, err = pgx.ParseConfig(c.DSN)
		if err != nil {
			return nil, fmt.Errorf("dsn: %s", redactErr(err))
		}
	} else {
		cfg, err = pgx.ParseConfig("sslmode=disable")
		if err != nil {
			return nil, err
		}
		cfg.Host = c.Host
		cfg.Port = 5432
		if c.Port > 0 {
			cfg.Port = uint16(c.Port)
		}
		cfg.Database = c.Database
		cfg.User = c.User
	}
	if password != "" {
		cfg.Password = password
	}
	if c.TLS.Mode != "" {
		tc, err := tlsConfig(c.TLS, cfg.Host)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = tc
		cfg.Fallbacks = nil
	}
	cfg.RuntimeParams["application_name"] = "shp"
	return &pgEngine{cfg: cfg}, nil
}

// pgSession pins, on every connection, the settings that change the text
// of a value, whatever the server, database or role set by default (or
// the DSN's options): times in UTC and ISO form, floats with every digit
// (with extra_float_digits below 1 the largest float8 reads as "inf"),
// intervals in PostgreSQL's own notation, bytes in hex. They are SET
// after connecting, as pg_dump does, rather than sent at start-up, which
// connection poolers such as PgBouncer refuse for parameters they do not
// know.
var pgSession = []string{
	"SET TimeZone = 'UTC'",
	"SET DateStyle = 'ISO, MDY'",
	"SET IntervalStyle = 'postgres'",
	"SET extra_float_digits = 3",
	"SET bytea_output = 'hex'",
	"SET client_encoding = 'UTF8'",
}

// tlsConfig builds the client TLS settings of a mode.
func tlsConfig(t TLS, host string) (*tls.Config, error) {
	if t.Mode == "disable" {
		return nil, nil
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if t.ServerName != "" {
		tc.ServerName = t.ServerName
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch t.Mode {
	case "require":
		tc.InsecureSkipVerify = true
	case "verify-ca":
		// Verify the chain but not the host name.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, len(raw))
			for i, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs[i] = c
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// redactErr keeps a DSN's password out of a parse error.
func redactErr(err error) string { return redact.Text(err.Error()) }

func (e *pgEngine) connect(ctx context.Context) (*pgx.Conn, error) {
	if e.conn != nil && !e.conn.IsClosed() {
		return e.conn, nil
	}
	conn, err := pgx.ConnectConfig(ctx, e.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.PgConn().Exec(ctx, strings.Join(pgSession, "; ")).ReadAll(); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("pin the session's settings: %w", err)
	}
	e.conn = conn
	return conn, nil
}

func (e *pgEngine) reset() {
	if e.conn != nil {
		_ = e.conn.Close(context.Background())
		e.conn = nil
	}
}

func (e *pgEngine) close() error {
	e.reset()
	return nil
}

func (e *pgEngine) quote(ident string) string { return pgx.Identifier{ident}.Sanitize() }

func (e *pgEngine) literal(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

func (e *pgEngine) scalar(ctx context.Context, query string, args []any) (string, bool, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return "", false, err
	}
	var v *string
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		return "", false, err
	}
	if v == nil {
		return "", false, nil
	}
	return *v, true, nil
}

func (e *pgEngine) describe(ctx context.Context, relation string, args []any) ([]column, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT * FROM "+relation+" LIMIT 0", args...)
	if err != nil {
		return nil, err
	}
	// The descriptions live in the connection's buffers: copy them before
	// the next query.
	fields := append([]pgconn.FieldDescription(nil), rows.FieldDescriptions()...)
	for i := range fields {
		fields[i].Name = strings.Clone(fields[i].Name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	oids := make([]uint32, len(fields))
	for i, f := range fields {
		oids[i] = f.DataTypeOID
	}
	cats := map[uint32][2]string{}
	trows, err := conn.Query(ctx, "SELECT oid, typcategory::text, typname::text FROM pg_type WHERE oid = ANY($1)", oids)
	if err != nil {
		return nil, err
	}
	for trows.Next() {
		var oid uint32
		var cat, name string
		if err := trows.Scan(&oid, &cat, &name); err != nil {
			trows.Close()
			return nil, err
		}
		cats[oid] = [2]string{cat, name}
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return nil, err
	}
	cols := make([]column, len(fields))
	for i, f := range fields {
		q := e.quote(f.Name)
		c := column{name: f.Name, expr: q, dbType: cats[f.DataTypeOID][1]}
		c.field = schema.Field{Name: f.Name, Mode: schema.ModeNullable}
		switch {
		case cats[f.DataTypeOID][0] == "A":
			c.field.Type = schema.TypeJSON
			c.expr = "array_to_json(" + q + ")"
		default:
			c.field.Type, c.field.Precision, c.field.Scale = pgType(f.DataTypeOID, f.TypeModifier)
		}
		if f.DataTypeOID == pgtype.NumericOID {
			c.decimal, c.scale = true, -1
			if f.TypeModifier >= 4 {
				p, s := int((f.TypeModifier-4)>>16)&0xffff, int(f.TypeModifier-4)&0xffff
				c.scale = s
				c.unbounded = p > schema.MaxDecimalPrecision
			} else {
				c.unbounded = true
			}
		}
		if f.DataTypeOID == pgtype.ByteaOID {
			c.expr = `CASE WHEN ` + q + ` IS NULL THEN NULL ELSE regexp_replace(encode(` + q + `, 'hex'), '(..)', '\\x\1', 'g') END`
		}
		if c.expr != q {
			c.expr += " AS " + q
		}
		cols[i] = c
	}
	return cols, nil
}

// measure reads the largest integer part and the most decimals of each
// column in one scan. NaN and infinities (which no NUMERIC holds; their
// rows are set aside when loaded) are left out.
func (e *pgEngine) measure(ctx context.Context, relation string, cols []column, args []any) ([]decimalStats, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	// min_scale (PostgreSQL 13) leaves trailing zeros out; scale counts
	// them, which only makes the choice wider.
	scaleFn := "min_scale"
	if v, _ := strconv.Atoi(strings.SplitN(conn.PgConn().ParameterStatus("server_version"), ".", 2)[0]); v > 0 && v < 13 {
		scaleFn = "scale"
	}
	var sel []string
	for _, c := range cols {
		q := e.quote(c.name)
		sel = append(sel, "max("+scaleFn+"("+q+"))", "(max(abs("+q+")) FILTER (WHERE scale("+q+") IS NOT NULL))::text")
	}
	vals := make([]*string, len(sel))
	ptrs := make([]any, len(sel))
	scales := make([]*int32, len(cols))
	for i := range sel {
		if i%2 == 0 {
			ptrs[i] = &scales[i/2]
		} else {
			ptrs[i] = &vals[i]
		}
	}
	if err := conn.QueryRow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+relation, args...).Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]decimalStats, len(cols))
	for i := range cols {
		if scales[i] != nil {
			out[i].scale = int(*scales[i])
		}
		if v := vals[2*i+1]; v != nil {
			out[i].intDigits = intDigits(*v)
		}
	}
	return out, nil
}

// selectExpr writes dates and times before the common era in DuckDB's
// notation ("0044-03-15 (BC) 10:00:00" where PostgreSQL writes
// "0044-03-15 10:00:00 BC", which would read as a date of the common
// era), and a numeric with more decimals than the NUMERIC it is loaded as
// with a reason that the load cannot read.
func (e *pgEngine) selectExpr(c column, load schema.Field) string {
	q := e.quote(c.name)
	if s, ok := guardScale(c, load); ok {
		return fmt.Sprintf("CASE WHEN %[1]s = round(%[1]s, %[2]d) THEN %[1]s::text ELSE %[1]s::text || %[3]s END AS %[1]s",
			q, s, e.literal(tooManyDecimals(s)))
	}
	if load.Repeated() {
		return c.expr
	}
	switch strings.ToUpper(load.Type) {
	case schema.TypeDate, schema.TypeDatetime, schema.TypeTimestamp:
		var first string
		switch c.dbType {
		case "date":
			first = "DATE '0001-01-01'"
		case "timestamp":
			first = "TIMESTAMP '0001-01-01 00:00:00'"
		case "timestamptz":
			first = "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
		default:
			return c.expr
		}
		return fmt.Sprintf(`CASE WHEN %[1]s < %[2]s THEN regexp_replace(%[1]s::text, '^([0-9]+-[0-9]+-[0-9]+)(.*) BC$', '\1 (BC)\2') ELSE %[1]s::text END AS %[1]s`,
			q, first)
	}
	return c.expr
}

// pgType maps a PostgreSQL type to the warehouse's.
func pgType(oid uint32, typmod int32) (typ string, precision, scale int) {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return schema.TypeInt64, 0, 0
	case pgtype.Float4OID, pgtype.Float8OID:
		return schema.TypeFloat64, 0, 0
	case pgtype.NumericOID:
		if typmod >= 4 {
			p, s := int((typmod-4)>>16)&0xffff, int(typmod-4)&0xffff
			if p <= 38 {
				return schema.TypeNumeric, p, s
			}
			return schema.TypeString, 0, 0
		}
		return schema.TypeNumeric, 38, 9
	case pgtype.BoolOID:
		return schema.TypeBool, 0, 0
	case pgtype.ByteaOID:
		return schema.TypeBytes, 0, 0
	case pgtype.DateOID:
		return schema.TypeDate, 0, 0
	case pgtype.TimestampOID:
		return schema.TypeDatetime, 0, 0
	case pgtype.TimestamptzOID:
		return schema.TypeTimestamp, 0, 0
	case pgtype.TimeOID:
		return schema.TypeTime, 0, 0
	case pgtype.JSONOID, pgtype.JSONBOID:
		return schema.TypeJSON, 0, 0
	}
	// text, varchar, char, name, uuid, interval, inet, money, xml, enums ...
	return schema.TypeString, 0, 0
}

// copyCSV writes the rows with COPY; a query with parameters, which COPY
// cannot bind, is read with them in text form and written as the MySQL
// engine does (csvField, \N for NULL).
func (e *pgEngine) copyCSV(ctx context.Context, query string, _ int, w io.Writer, args []any) (int64, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return 0, err
	}
	if len(args) > 0 {
		return copyBound(ctx, conn.PgConn(), query, args, w)
	}
	tag, err := conn.PgConn().CopyTo(ctx, w, "COPY ("+query+`) TO STDOUT WITH (FORMAT csv, NULL '\N')`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
