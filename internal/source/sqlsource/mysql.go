package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shp-dev/shp/internal/schema"
)

// mysqlEngine extracts from MySQL or MariaDB, streaming rows.
type mysqlEngine struct {
	db     *sql.DB
	binary []bool // per column of the last describe: bytes, written as \xHH
}

// tlsNames gives each registered TLS configuration a unique name.
var tlsNames atomic.Int64

func newMySQL(c Config, password string) (*mysqlEngine, error) {
	var cfg *mysql.Config
	if c.DSN != "" {
		var err error
		if cfg, err = mysql.ParseDSN(c.DSN); err != nil {
			return nil, fmt.Errorf("dsn: %s", redactErr(err))
		}
	} else {
		cfg = mysql.NewConfig()
		port := 3306
		if c.Port > 0 {
			port = c.Port
		}
		cfg.Net = "tcp"
		cfg.Addr = net.JoinHostPort(c.Host, strconv.Itoa(port))
		cfg.DBName = c.Database
		cfg.User = c.User
	}
	if password != "" {
		cfg.Passwd = password
	}
	if c.TLS.Mode != "" && c.TLS.Mode != "disable" {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		tc, err := tlsConfig(c.TLS, host)
		if err != nil {
			return nil, err
		}
		name := "shp" + strconv.FormatInt(tlsNames.Add(1), 10)
		if err := mysql.RegisterTLSConfig(name, tc); err != nil {
			return nil, err
		}
		cfg.TLSConfig = name
		cfg.TLS = tc.Clone()
	}
	// Times come out as text, in UTC.
	cfg.ParseTime = false
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = pinnedSQLMode(cfg.Params["sql_mode"])
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	return &mysqlEngine{db: db}, nil
}

// textModes are the sql_mode flags that change what a query returns or
// how shp's literals read: PAD_CHAR_TO_FULL_LENGTH pads CHAR values with
// spaces, NO_BACKSLASH_ESCAPES reads a backslash in a literal as itself.
var textModes = []string{"PAD_CHAR_TO_FULL_LENGTH", "NO_BACKSLASH_ESCAPES"}

// pinnedSQLMode returns the sql_mode expression a session is SET to: the
// DSN's own sql_mode (an SQL expression, as the driver sends it), or the
// server's default, without textModes. Every other flag stays, so that a
// query written for the server's mode (ANSI_QUOTES, PIPES_AS_CONCAT)
// reads as it does there; sql_mode changes no value that a SELECT reads,
// zero dates included: those arrive as written ("0000-00-00") and the
// load sets their rows aside.
func pinnedSQLMode(dsnMode string) string {
	mode := "@@SESSION.sql_mode"
	if dsnMode != "" {
		mode = "(" + dsnMode + ")"
	}
	expr := "CONCAT(',', " + mode + ", ',')"
	for _, m := range textModes {
		expr = "REPLACE(" + expr + ", '," + m + ",', ',')"
	}
	return "TRIM(BOTH ',' FROM " + expr + ")"
}

func (e *mysqlEngine) quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

func (e *mysqlEngine) literal(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(v) + "'"
}

func (e *mysqlEngine) reset() {}

func (e *mysqlEngine) close() error { return e.db.Close() }

func (e *mysqlEngine) scalar(ctx context.Context, query string, args []any) (string, bool, error) {
	var v sql.NullString
	if err := e.db.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", false, err
	}
	return v.String, v.Valid, nil
}

func (e *mysqlEngine) describe(ctx context.Context, relation string, args []any) ([]column, error) {
	rows, err := e.db.QueryContext(ctx, "SELECT * FROM "+relation+" LIMIT 0", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]column, len(types))
	e.binary = make([]bool, len(types))
	for i, t := range types {
		c := column{name: t.Name(), expr: e.quote(t.Name()), dbType: t.DatabaseTypeName()}
		c.field = schema.Field{Name: t.Name(), Mode: schema.ModeNullable}
		if n, ok := t.Nullable(); ok && !n {
			c.field.Mode = schema.ModeRequired
		}
		switch db := t.DatabaseTypeName(); db {
		case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR",
			"UNSIGNED TINYINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT", "UNSIGNED INT":
			c.field.Type = schema.TypeInt64
		case "UNSIGNED BIGINT":
			c.field.Type, c.field.Precision, c.field.Scale = schema.TypeNumeric, 20, 0
		case "DECIMAL":
			p, s, ok := t.DecimalSize()
			c.field.Type = schema.TypeNumeric
			c.decimal, c.scale = true, -1
			if ok {
				c.scale = int(s)
			}
			if ok && p <= schema.MaxDecimalPrecision {
				c.field.Precision, c.field.Scale = int(p), int(s)
			} else {
				// Discover measures the values to choose a NUMERIC.
				c.unbounded = true
				c.field.Type = schema.TypeString
			}
		case "FLOAT", "DOUBLE":
			c.field.Type = schema.TypeFloat64
		case "DATE":
			c.field.Type = schema.TypeDate
		case "DATETIME":
			c.field.Type = schema.TypeDatetime
		case "TIMESTAMP":
			c.field.Type = schema.TypeTimestamp
		case "TIME":
			c.field.Type = schema.TypeTime
		case "JSON":
			c.field.Type = schema.TypeJSON
		case "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "BIT", "GEOMETRY":
			c.field.Type = schema.TypeBytes
			e.binary[i] = true
		default: // CHAR, VARCHAR, TEXT, ENUM, SET ...
			c.field.Type = schema.TypeString
		}
		cols[i] = c
	}
	return cols, rows.Err()
}

// measure reads the largest integer part and the most decimals (trailing
// zeros left out: MySQL writes every decimal of the column's scale) of
// each column in one scan.
func (e *mysqlEngine) measure(ctx context.Context, relation string, cols []column, args []any) ([]decimalStats, error) {
	var sel []string
	for _, c := range cols {
		q := e.quote(c.name)
		decimals := "0"
		if c.scale != 0 {
			text := "CAST(" + q + " AS CHAR)"
			decimals = "MAX(IF(LOCATE('.', " + text + ") > 0, CHAR_LENGTH(TRIM(TRAILING '0' FROM SUBSTRING_INDEX(" + text + ", '.', -1))), 0))"
		}
		sel = append(sel, decimals, "CAST(MAX(ABS("+q+")) AS CHAR)")
	}
	vals := make([]sql.NullString, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := e.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+relation, args...).Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]decimalStats, len(cols))
	for i := range cols {
		if v := vals[2*i]; v.Valid {
			n, err := strconv.Atoi(v.String)
			if err != nil {
				return nil, fmt.Errorf("decimals of column %s: %q is not a number", cols[i].name, v.String)
			}
			out[i].scale = n
		}
		if v := vals[2*i+1]; v.Valid {
			out[i].intDigits = intDigits(v.String)
		}
	}
	return out, nil
}

// selectExpr writes a decimal with more decimals than the NUMERIC it is
// loaded as with a reason that the load cannot read.
func (e *mysqlEngine) selectExpr(c column, load schema.Field) string {
	if s, ok := guardScale(c, load); ok {
		q := e.quote(c.name)
		return fmt.Sprintf("CASE WHEN %[1]s = ROUND(%[1]s, %[2]d) THEN %[1]s ELSE CONCAT(%[1]s, %[3]s) END AS %[1]s",
			q, s, e.literal(tooManyDecimals(s)))
	}
	return c.expr
}

func (e *mysqlEngine) copyCSV(ctx context.Context, query string, ncols int, w io.Writer, args []any) (int64, error) {
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]sql.RawBytes, ncols)
	ptrs := make([]any, ncols)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	buf := make([]byte, 0, 64<<10)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			switch {
			case v == nil:
				buf = append(buf, '\\', 'N')
			case i < len(e.binary) && e.binary[i]:
				buf = appendHexEscaped(buf, v)
			default:
				buf = appendCSVField(buf, v)
			}
		}
		buf = append(buf, '\n')
		n++
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return n, err
			}
			buf = buf[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if _, err := w.Write(buf); err != nil {
		return n, err
	}
	return n, nil
}

// appendHexEscaped writes bytes as DuckDB's BLOB text: \xHH per byte.
func appendHexEscaped(buf, v []byte) []byte {
	const hex = "0123456789abcdef"
	for _, b := range v {
		buf = append(buf, '\\', 'x', hex[b>>4], hex[b&15])
	}
	return buf
}
