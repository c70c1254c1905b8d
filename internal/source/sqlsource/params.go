package sqlsource

import (
	"context"
	"io"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/params"
)

// bind turns the {{params.NAME}} of the configured query into the
// engine's placeholders and keeps the values bound to them (see
// params.BindSQL): a parameter's value is never part of the query's text.
// A reference placed where no value may stand is an error now; one to a
// parameter without a value is kept in x.unbound, so that the settings
// still check (shp config validate) and reading fails with it.
func (x *extractor) bind(engineName string, vals map[string]params.Value) error {
	x.query = x.cfg.Query
	if x.cfg.Query == "" {
		return nil
	}
	d := params.Postgres
	if engineName == "mysql" {
		d = params.MySQL
	}
	var args []any
	q, err := params.BindSQL(x.cfg.Query, d, func(name string) (string, error) {
		v, ok := vals[name]
		if !ok {
			if x.unbound == nil {
				x.unbound = params.Errorf(name, "has no value: give it when the run is triggered, or declare a default (parameters in sources.yaml)")
			}
			v = params.Value{Type: params.String}
		}
		p, arg := x.eng.placeholder(len(args)+1, v)
		args = append(args, arg)
		return p, nil
	})
	if err != nil {
		return err
	}
	x.query, x.args = q, args
	return nil
}

// pgCasts are the PostgreSQL types of the declared types' placeholders. A
// string (declared or not) has none: PostgreSQL gives it the type the
// query needs there, as it does a quoted literal, and reads the value as
// that type (an integer column's "0--" is an error, never SQL).
var pgCasts = map[params.Type]string{
	params.Int:       "::bigint",
	params.Float:     "::double precision",
	params.Bool:      "::boolean",
	params.Date:      "::date",
	params.Timestamp: "::timestamptz",
}

// placeholder is $n with the declared type's cast; the value goes as
// text, which the server reads as that type.
func (e *pgEngine) placeholder(n int, v params.Value) (string, any) {
	return "$" + strconv.Itoa(n) + pgCasts[v.Type], v.Text
}

// placeholder is ?; the value goes with its type: an int64, a float64, a
// bool, a time (a timestamp, in UTC) or a string (a date too, which MySQL
// reads as one where it meets a date).
func (e *mysqlEngine) placeholder(_ int, v params.Value) (string, any) {
	switch a := v.JSON().(type) {
	case int64, float64, bool:
		return "?", a
	}
	if t, ok := v.Time(); ok && v.Type == params.Timestamp {
		return "?", t
	}
	return "?", v.Text
}

// copyBound writes the rows of a query with parameters as CSV. COPY takes
// no parameters, so the rows are read in text form (the text COPY writes:
// both come from the types' output functions) and quoted by csvField,
// NULL as \N. On an error the caller drops the connection, whatever the
// server still sends.
func copyBound(ctx context.Context, pc *pgconn.PgConn, query string, args []any, w io.Writer) (int64, error) {
	vals := make([][]byte, len(args))
	for i, a := range args {
		s, _ := a.(string)
		vals[i] = []byte(s)
	}
	rr := pc.ExecParams(ctx, query, vals, nil, nil, nil)
	var n int64
	buf := make([]byte, 0, 64<<10)
	for rr.NextRow() {
		for i, v := range rr.Values() {
			if i > 0 {
				buf = append(buf, ',')
			}
			if v == nil {
				buf = append(buf, '\\', 'N')
			} else {
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
	if _, err := rr.Close(); err != nil {
		return n, err
	}
	if _, err := w.Write(buf); err != nil {
		return n, err
	}
	return n, nil
}
