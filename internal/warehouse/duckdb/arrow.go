//go:build duckdb_arrow

package duckdb

import (
	"bufio"
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// ReadsArrow implements warehouse.ArrowReader: built with the
// duckdb_arrow tag, DuckDB scans Arrow IPC chunks through its Arrow
// interface, without parsing text.
func (w *Warehouse) ReadsArrow() bool { return true }

// stageArrow stages an Arrow IPC stream (an extractor's typed batches,
// whose lineCol numbers its rows): DuckDB scans its record batches as a
// view, which castBatches types.
func (s *stager) stageArrow(ctx context.Context, declared []declaredColumn) error {
	f, err := os.Open(s.spec.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	rdr, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<20), ipc.WithAllocator(s.w.batches))
	if err != nil {
		return fmt.Errorf("read arrow stream: %w", err)
	}
	defer rdr.Release()
	view := "__shp_arrow_" + sanitize(s.table)
	var release func()
	if err := s.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("not a DuckDB connection: %T", dc)
		}
		a, err := duckdb.NewArrowFromConn(c)
		if err != nil {
			return err
		}
		release, err = a.RegisterView(rdr, view)
		return err
	}); err != nil {
		return fmt.Errorf("scan arrow stream: %w", err)
	}
	defer release()
	src := ident(view)
	if len(declared) == 0 {
		return s.createFrom(ctx, "SELECT * FROM "+src)
	}
	present, fileType, err := s.presentIn(ctx, src, declared)
	if err != nil {
		return err
	}
	return s.castBatches(ctx, src, declared, present, fileType)
}

// castBatches creates the staging table from typed batches (src has
// lineCol), casting each present column to its declared type. A column
// whose batches already hold the declared type, with no parse of its
// own, is taken as it is: it cannot fail. When no column can fail, the
// staging table is one statement over the stream, in its order. Else a
// value that does not cast sets its row aside, as castInto does, with
// the row as read: the stream is read once, into a staging table that
// holds each row's reasons and, for a row that has some, the row as
// read; those rows then move to the quarantine, and the two columns go.
func (s *stager) castBatches(ctx context.Context, src string, declared, present []declaredColumn, fileType map[string]string) error {
	const from = "__shp_src"
	var casts, errs, rawParts []string
	for _, d := range declared {
		p, ok := presentAs(present, d.Name)
		if !ok {
			s.noteMissing(d.Name)
			casts = append(casts, "CAST(NULL AS "+d.Type+") AS "+ident(d.Name))
			continue
		}
		orig := from + "." + ident(p.Name)
		rawParts = append(rawParts, literal(p.Name)+", "+orig)
		cp, parsed := s.parse(d.Name)
		if !parsed && len(cp.NullTokens) == 0 && strings.EqualFold(fileType[p.Name], d.Type) {
			casts = append(casts, orig+" AS "+ident(d.Name))
			continue
		}
		cast, reason := s.columnCast(d, p.Name)
		if !parsed && len(cp.NullTokens) == 0 && exactNumericCast(fileType[p.Name], d.Type) {
			// No value can round: a cast that fails is one that overflows.
			cast = fmt.Sprintf("TRY_CAST(%s AS %s)", ident(p.Name), d.Type)
			reason = castReason(ident(p.Name), d.Type, d.Name, cast)
		}
		casts = append(casts, cast+" AS "+ident(d.Name))
		errs = append(errs, reason)
	}
	if len(errs) == 0 {
		return s.createFrom(ctx, fmt.Sprintf("SELECT %s, %s FROM %s AS %s", ident(lineCol), strings.Join(casts, ", "), src, from))
	}
	errExpr := "concat_ws('; ', " + strings.Join(errs, ", ") + ")"
	staging := stagingRef(s.table)
	stmts := []string{
		fmt.Sprintf("%s AS SELECT %s.%s, %s, %s AS %s, CASE WHEN %s <> '' THEN CAST(json_object(%s) AS VARCHAR) END AS %s FROM %s AS %s",
			createStaging(s.table), from, ident(lineCol), strings.Join(casts, ", "), errExpr, ident(errCol), errExpr,
			strings.Join(rawParts, ", "), ident(rawCol), src, from),
		fmt.Sprintf("INSERT INTO %s SELECT %s, %s, %s FROM %s WHERE %s <> ''",
			stagingRef(s.qtable), ident(lineCol), ident(errCol), ident(rawCol), staging, ident(errCol)),
		fmt.Sprintf("DELETE FROM %s WHERE %s <> ''", staging, ident(errCol)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", staging, ident(errCol)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", staging, ident(rawCol)),
	}
	for _, stmt := range stmts {
		if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("type input columns: %w", err)
		}
	}
	return nil
}
