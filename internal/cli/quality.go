package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/quality"
)

func newQualityCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "quality", Short: "Profile data, suggest suites, and manage a pipeline's rules, scores and validation results"}
	var data, schemaPath, outFormat, output string
	profile := &cobra.Command{
		Use:   "profile --data FILE",
		Short: "Per-column statistics: type, null %, distinct count, min/max, top values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			p, err := profileFile(cmd.Context(), data, schemaPath)
			if err != nil {
				return usageErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, p)
			}
			fmt.Fprintf(e.stdout, "%s: %d rows, %d columns\n", data, p.Rows, len(p.Columns))
			t := newTable(e.stdout, "COLUMN", "TYPE", "NULL %", "DISTINCT", "MIN", "MAX", "TOP VALUES")
			for _, c := range p.Columns {
				var top []string
				for _, v := range c.Top {
					top = append(top, fmt.Sprintf("%s (%d)", cell(v.Value), v.Count))
				}
				t.row(c.Name, c.Type, fmt.Sprintf("%.1f", c.NullPercent), c.Distinct, c.Min, c.Max, strings.Join(top, ", "))
			}
			t.flush()
			return nil
		},
	}
	suggest := &cobra.Command{
		Use:   "suggest --data FILE",
		Short: "Write a starter Great Expectations suite inferred from a known-good batch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := profileFile(cmd.Context(), data, schemaPath)
			if err != nil {
				return usageErr(err)
			}
			name := strings.TrimSuffix(filepath.Base(data), filepath.Ext(data)) + "_suite"
			suite := quality.SuiteJSON(quality.Suggest(name, p))
			if output == "" || output == "-" {
				return writeJSON(e.stdout, suite)
			}
			f, err := os.Create(output)
			if err != nil {
				return failedErr(err)
			}
			defer f.Close()
			if err := writeJSON(f, suite); err != nil {
				return failedErr(err)
			}
			fmt.Fprintf(e.stdout, "wrote %s with %d expectations\n", output, len(suite["expectations"].([]any)))
			return nil
		},
	}
	for _, c := range []*cobra.Command{profile, suggest} {
		c.Flags().StringVar(&data, "data", "", "data file (csv, jsonl, ndjson, json, parquet; optionally .gz)")
		c.Flags().StringVar(&schemaPath, "schema", "", "BigQuery JSON schema file for column types")
		_ = c.MarkFlagRequired("data")
	}
	profile.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	suggest.Flags().StringVarP(&output, "output", "o", "", "write the suite to this file instead of stdout")
	cmd.AddCommand(profile, suggest)
	cmd.AddCommand(newQualityStoreCmds(e)...)
	return cmd
}

func profileFile(ctx context.Context, data, schemaPath string) (*quality.Profile, error) {
	var p *quality.Profile
	err := withDataFile(ctx, data, schemaPath, nil, func(q quality.Queryer, d quality.Dialect, t quality.Table) error {
		var err error
		p, err = quality.ProfileTable(ctx, q, d, t)
		return err
	})
	return p, err
}
