package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/warehouse"
)

func newQueryCmd(e *env) *cobra.Command {
	var dir, outFormat string
	var limit int
	cmd := &cobra.Command{
		Use:   `query "SQL"`,
		Short: "Run SQL against the project's warehouse",
		Example: `  shp query --config examples/quickstart "SELECT region, sum(quantity) FROM sales GROUP BY region"
  shp query --config examples/quickstart --format csv "SELECT * FROM sales__quarantine"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch outFormat {
			case "table", "json", "csv":
			default:
				return usageErr(fmt.Errorf("--format must be table, json or csv, not %q", outFormat))
			}
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			return runQuery(cmd.Context(), e, p, args[0], outFormat, limit)
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table, json or csv")
	cmd.Flags().IntVar(&limit, "max-rows", 1000, "print at most this many rows in table format (0: all)")
	return cmd
}

// runQuery runs SQL on the project's warehouse, through the serving
// process when one holds it, and writes the rows.
func runQuery(ctx context.Context, e *env, p *config.Project, query, outFormat string, limit int) error {
	return readRows(ctx, e, p, controlRequest{Op: "query", SQL: query, Format: outFormat, Limit: limit})
}

// readRows answers a request that reads rows from the project's
// warehouse (a query, a run's set-aside rows), through the serving
// process when one holds it, and writes them.
func readRows(ctx context.Context, e *env, p *config.Project, req controlRequest) error {
	if done, err := forward(ctx, e, p, req); done {
		return err
	}
	svc, err := openServices(ctx, p, what{store: true, warehouse: true, log: e.logger()})
	if err != nil {
		return err
	}
	defer svc.close()
	return writeRequestRows(ctx, e, svc.warehouse, req, svc.service())
}

// writeRequestRows reads the rows a query or quarantine request asks for
// and writes them. A query is recorded in the query history the
// optimisation layer reads (with how long it took, its rows, or its
// error), when svc is not nil.
func writeRequestRows(ctx context.Context, e *env, wh warehouse.Warehouse, req controlRequest, svc *service.Service) error {
	var rows warehouse.Rows
	var err error
	switch req.Op {
	case "query":
		started := time.Now()
		if m, ok := wh.(warehouse.ScanMeter); ok && svc != nil {
			// Measured: the history keeps what the query read.
			var sr warehouse.ScannedRows
			if sr, err = m.MeasuredQuery(ctx, req.SQL); err == nil {
				rows = sr
			}
		} else {
			rows, err = wh.RunQuery(ctx, req.SQL)
		}
		if svc != nil {
			counted := &countedRows{Rows: rows}
			if err == nil {
				rows = counted
			}
			defer func() {
				// The query's own time and error: until its last row was
				// read, not what writing the rows out took or met.
				end := counted.end
				if end.IsZero() {
					end = time.Now()
				}
				rec := optimize.Record{Source: "user", Text: req.SQL, Duration: end.Sub(started), Rows: counted.n, Calls: 1}
				if sr, ok := counted.Rows.(warehouse.ScannedRows); ok {
					counted.Close() // the figures hold once the rows are closed
					s := sr.Scanned()
					rec.RowsScanned, rec.BytesScanned, rec.BytesBilled = s.RowsScanned, s.Bytes, s.BytesBilled
				}
				switch {
				case rows == nil && err != nil:
					rec.Error = err.Error()
				case counted.Rows != nil && counted.Rows.Err() != nil:
					rec.Error = counted.Rows.Err().Error()
				}
				if rerr := svc.RecordQuery(context.WithoutCancel(ctx), rec); rerr != nil {
					e.logger().Debug("record the query", "err", rerr)
				}
			}()
		}
	case "quarantine":
		rows, err = wh.QuarantinedRows(ctx, req.RunID, req.Target)
	default:
		return usageErr(fmt.Errorf("unknown request %q", req.Op))
	}
	if err != nil {
		return failedErr(err)
	}
	defer rows.Close()
	return failedIf(writeRows(e, rows, req.Format, req.Limit))
}

// countedRows counts the rows read, and notes when the last was.
type countedRows struct {
	warehouse.Rows
	n   int64
	end time.Time
}

func (c *countedRows) Next() bool {
	ok := c.Rows.Next()
	if ok {
		c.n++
	} else if c.end.IsZero() {
		c.end = time.Now()
	}
	return ok
}

func failedIf(err error) error {
	if err != nil {
		return failedErr(err)
	}
	return nil
}

// writeRows streams query results; only the table format buffers rows, and
// only up to the limit, to align columns.
func writeRows(e *env, rows warehouse.Rows, outFormat string, limit int) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("column types: %w", err)
	}
	dbTypes := make([]string, len(types))
	for i, ct := range types {
		dbTypes[i] = ct.Type
	}
	scan := func() ([]any, error) {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			vals[i] = normalize(v, dbTypes[i])
		}
		return vals, nil
	}
	switch outFormat {
	case "json":
		fmt.Fprint(e.stdout, "[")
		n := 0
		for rows.Next() {
			vals, err := scan()
			if err != nil {
				return err
			}
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = vals[i]
			}
			if n > 0 {
				fmt.Fprint(e.stdout, ",")
			}
			fmt.Fprint(e.stdout, "\n  ")
			if err := writeJSONCompact(e.stdout, obj); err != nil {
				return err
			}
			n++
		}
		fmt.Fprintln(e.stdout, "\n]")
		return rows.Err()
	case "csv":
		cw := csv.NewWriter(e.stdout)
		if err := cw.Write(cols); err != nil {
			return err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			vals, err := scan()
			if err != nil {
				return err
			}
			for i, v := range vals {
				rec[i] = ""
				if v != nil {
					rec[i] = cell(v)
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return rows.Err()
	}
	t := newTable(e.stdout, cols...)
	n := 0
	for rows.Next() {
		if limit > 0 && n == limit {
			t.flush()
			fmt.Fprintf(e.stdout, "  (more rows not shown; use --max-rows 0 or --format csv)\n")
			return rows.Err()
		}
		vals, err := scan()
		if err != nil {
			return err
		}
		t.row(vals...)
		n++
	}
	t.flush()
	fmt.Fprintf(e.stdout, "  (%d rows)\n", n)
	return rows.Err()
}

// normalize turns driver values into what JSON and tables show well; a
// date or time prints as its column's database type reads (formatTime).
func normalize(v any, dbType string) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case *big.Int:
		return x.String()
	case time.Time:
		return formatTime(x, dbType)
	case fmt.Stringer:
		return x.String()
	}
	return v
}

// formatTime prints a value of a DATE, TIME or TIMESTAMP column as the
// type reads: DATE 2006-01-02, TIME 15:04:05, TIMESTAMP 2006-01-02
// 15:04:05, TIMETZ 15:04:05+02:00, fractional seconds only when not zero.
// TIMESTAMPTZ, and an instant of any other type, is RFC 3339 in UTC.
func formatTime(t time.Time, dbType string) string {
	switch strings.ToUpper(dbType) {
	case "DATE":
		return t.Format(time.DateOnly)
	case "TIME", "TIME WITHOUT TIME ZONE":
		return t.Format("15:04:05.999999999")
	case "TIMETZ", "TIME WITH TIME ZONE":
		return t.Format("15:04:05.999999999Z07:00")
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE":
		return t.Format("2006-01-02 15:04:05.999999999")
	}
	return t.UTC().Format(time.RFC3339Nano)
}
