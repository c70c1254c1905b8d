package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func newValidateCmd(e *env) *cobra.Command {
	var data, schemaPath, suitePath, resultFormat string
	var tables []string
	cmd := &cobra.Command{
		Use:   "validate --data FILE --suite FILE",
		Short: "Validate a data file against a Great Expectations suite; print the JSON result",
		Long: `Validate reads CSV, JSON Lines (.jsonl, .ndjson), a JSON array of objects (.json)
or Parquet, optionally typed by a BigQuery JSON schema, runs the suite's
expectations as SQL in an embedded DuckDB and prints one JSON validation result.
Exit 0 when every expectation succeeds, 1 when any fails, 2 for unreadable or
invalid input. unexpected_index_list holds 0-based row positions.

--table NAME=FILE loads another file as table NAME, for expectations that
compare with another table (expect_table_row_count_to_equal_other_table).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rf, err := quality.ParseResultFormat(resultFormat)
			if err != nil {
				return usageErr(err)
			}
			others, err := parseTables(tables)
			if err != nil {
				return usageErr(err)
			}
			res, err := validateFile(cmd.Context(), data, schemaPath, suitePath, rf, others...)
			if err != nil {
				return usageErr(err)
			}
			if err := writeJSON(e.stdout, res); err != nil {
				return err
			}
			if !res.Success {
				return &exitError{code: ExitFailed, err: fmt.Errorf("%d of %d expectations failed", res.Statistics.Unsuccessful, res.Statistics.Evaluated)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "data file (csv, jsonl, ndjson, json, parquet; optionally .gz)")
	cmd.Flags().StringVar(&schemaPath, "schema", "", "BigQuery JSON schema file for column types")
	cmd.Flags().StringVar(&suitePath, "suite", "", "Great Expectations suite (JSON, 0.x or 1.x layout)")
	cmd.Flags().StringArrayVar(&tables, "table", nil, "another table, as NAME=FILE (repeatable)")
	cmd.Flags().StringVar(&resultFormat, "result-format", "SUMMARY", "BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE")
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("suite")
	return cmd
}

// validateFile loads a file into an in-memory DuckDB staging table, the way
// a pipeline stages it, and validates the suite there.
func validateFile(ctx context.Context, dataPath, schemaPath, suitePath string, rf quality.ResultFormat, others ...namedFile) (*quality.Result, error) {
	suite, err := quality.LoadSuite(suitePath)
	if err != nil {
		return nil, err
	}
	var res *quality.Result
	err = withDataFile(ctx, dataPath, schemaPath, others, func(q quality.Queryer, d quality.Dialect, t quality.Table) error {
		var err error
		res, err = quality.Validate(ctx, q, d, t, suite, rf)
		return err
	})
	return res, err
}

// withDataFile stages a data file in an in-memory warehouse of the
// default type (DuckDB: validate and profile read no project) and runs
// fn on its table, in the warehouse's dialect; each of others is loaded
// into a table of its name. Input that does not read cleanly is an
// error: validation and profiling are about the data, not the parser.
func withDataFile(ctx context.Context, dataPath, schemaPath string, others []namedFile,
	fn func(q quality.Queryer, d quality.Dialect, t quality.Table) error) error {
	var sch schema.Schema
	var err error
	if schemaPath != "" {
		if sch, err = schema.Load(schemaPath); err != nil {
			return err
		}
	}
	f, c, err := format.Detect(dataPath)
	if err != nil {
		return err
	}
	wh, err := warehouse.Open(ctx, config.WarehouseDuckDB, warehouse.Options{})
	if err != nil {
		return err
	}
	defer wh.Close()
	st, err := wh.Stage(ctx, warehouse.LoadSpec{
		RunID: "validate", Pipeline: "validate", Target: "validate", ObjectKey: dataPath,
		Path: dataPath, Format: f, Compression: c, Schema: sch, MonthFirst: true, Parse: pipeline.DeclaredParse(sch),
	})
	if err != nil {
		return err
	}
	if st.Quarantined > 0 {
		var msgs []string
		for _, s := range st.Samples {
			msgs = append(msgs, s.Describe(dataPath))
		}
		return fmt.Errorf("%d row(s) of %s cannot be read:\n  %s", st.Quarantined, dataPath, strings.Join(msgs, "\n  "))
	}
	for i, o := range others {
		of, oc, err := format.Detect(o.Path)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("validate_other_%d", i)
		ost, err := wh.Stage(ctx, warehouse.LoadSpec{
			RunID: "validate", Pipeline: name, Target: o.Name, ObjectKey: o.Path,
			Path: o.Path, Format: of, Compression: oc, MonthFirst: true,
		})
		if err != nil {
			return fmt.Errorf("table %s: %w", o.Name, err)
		}
		if ost.Quarantined > 0 {
			return fmt.Errorf("table %s: %d row(s) of %s cannot be read", o.Name, ost.Quarantined, o.Path)
		}
		if _, err := wh.Commit(ctx, warehouse.CommitSpec{RunID: "validate", Pipeline: name, Target: o.Name,
			Mode: warehouse.ModeReplace, Objects: []*warehouse.Staged{ost}}); err != nil {
			return fmt.Errorf("table %s: %w", o.Name, err)
		}
	}
	table := quality.Table{Name: st.Table, Index: st.Index}
	for _, col := range st.Columns {
		table.Columns = append(table.Columns, quality.Column{Name: col.Name, Type: col.Type})
	}
	return fn(pipeline.Queryer(wh), wh.Dialect(), table)
}

// namedFile is a data file loaded as a table of the given name.
type namedFile struct{ Name, Path string }

// parseTables reads --table NAME=FILE flags.
func parseTables(specs []string) ([]namedFile, error) {
	var out []namedFile
	seen := map[string]bool{}
	for _, s := range specs {
		name, path, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--table %q: want NAME=FILE", s)
		}
		if seen[name] {
			return nil, fmt.Errorf("--table %q: table %s given twice", s, name)
		}
		seen[name] = true
		out = append(out, namedFile{Name: name, Path: path})
	}
	return out, nil
}
