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
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	return &mysqlEngine{db: db}, nil
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

func (e *mysqlEngine) scalar(ctx context.Context, query string) (string, bool, error) {
	var v sql.NullString
	if err := e.db.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return "", false, err
	}
	return v.String, v.Valid, nil
}

func (e *mysqlEngine) describe(ctx context.Context, relation string) ([]column, error) {
	rows, err := e.db.QueryContext(ctx, "SELECT * FROM "+relation+" LIMIT 0")
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
			if ok && p <= 38 {
				c.field.Precision, c.field.Scale = int(p), int(s)
			} else if ok {
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

func (e *mysqlEngine) copyCSV(ctx context.Context, query string, ncols int, w io.Writer) (int64, error) {
	rows, err := e.db.QueryContext(ctx, query)
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
				buf = append(buf, csvField(string(v))...)
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
