package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
)

func newSourcesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "sources", Short: "List sources and test their connections"}
	var dir, outFormat string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the sources of a project and the pipelines that read them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			type row struct {
				Name      string   `json:"name"`
				Type      string   `json:"type"`
				Location  string   `json:"location"`
				Pipelines []string `json:"pipelines"`
			}
			var rows []row
			for _, name := range sortedKeys(p.Sources) {
				src := p.Sources[name]
				r := row{Name: name, Type: src.Type, Location: sourceLocation(src), Pipelines: []string{}}
				for _, pn := range p.PipelineNames() {
					if pl, _ := p.Pipeline(pn); pl.Source == name {
						r.Pipelines = append(r.Pipelines, pn)
					}
				}
				rows = append(rows, r)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, rows)
			}
			t := newTable(e.stdout, "SOURCE", "TYPE", "LOCATION", "PIPELINES")
			for _, r := range rows {
				t.row(r.Name, r.Type, r.Location, fmt.Sprint(r.Pipelines))
			}
			t.flush()
			return nil
		},
	}
	list.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	list.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")

	var testDir string
	test := &cobra.Command{
		Use:   "test [NAME]",
		Short: "Connect to each source (or NAME) and print what it holds: the columns of a database or API, the files of a bucket",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(testDir)
			if err != nil {
				return err
			}
			names := sortedKeys(p.Sources)
			if len(args) == 1 {
				if _, ok := p.Sources[args[0]]; !ok {
					return usageErr(fmt.Errorf("source %q is not defined (have %v)", args[0], names))
				}
				names = []string{args[0]}
			}
			var failed []error
			for _, name := range names {
				if err := testSource(cmd.Context(), e.stdout, p, p.Sources[name]); err != nil {
					fmt.Fprintf(e.stdout, "%s: FAILED: %v\n", name, err)
					failed = append(failed, fmt.Errorf("source %s: %w", name, err))
				}
			}
			if len(failed) > 0 {
				return failedErr(errors.Join(failed...))
			}
			return nil
		},
	}
	test.Flags().StringVarP(&testDir, "config", "c", ".", "project config folder")
	cmd.AddCommand(list, test)
	return cmd
}

// sourceLocation says where a source reads, without secrets.
func sourceLocation(src *config.Source) string {
	switch src.Type {
	case config.SourceGCS:
		return "gs://" + src.Bucket + "/" + src.Path
	case config.SourceFile:
		return src.Path
	}
	s := src.Settings
	if u, ok := s["url"].(string); ok {
		return u
	}
	where := ""
	if h, ok := s["host"].(string); ok {
		where = h
		if db, ok := s["database"].(string); ok {
			where += "/" + db
		}
	} else if _, ok := s["dsn"]; ok {
		where = "(dsn)"
	}
	if t, ok := s["table"].(string); ok {
		return where + " table " + t
	}
	return where + " query"
}

// testSource connects to one source and prints its shape.
func testSource(ctx context.Context, w io.Writer, p *config.Project, src *config.Source) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	if config.IsExtracting(src.Type) {
		ex, err := source.NewExtractor(ctx, source.Spec{Name: src.Name, Type: src.Type, BaseDir: p.Dir, Settings: src.Settings})
		if err != nil {
			return err
		}
		defer ex.Close()
		sch, err := ex.Discover(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: ok (%s, %s): %d columns\n", src.Name, src.Type, time.Since(start).Round(time.Millisecond), len(sch))
		printSchema(w, sch)
		return nil
	}
	objSrc, err := source.New(ctx, source.Spec{Name: src.Name, Type: src.Type, Bucket: src.Bucket, Path: src.Path, Endpoint: src.Endpoint, BaseDir: p.Dir})
	if err != nil {
		return err
	}
	defer objSrc.Close()
	objs, err := objSrc.List(ctx)
	if err != nil {
		return err
	}
	var bytes int64
	for _, o := range objs {
		bytes += o.Size
	}
	fmt.Fprintf(w, "%s: ok (%s, %s): %d objects, %s\n", src.Name, src.Type, time.Since(start).Round(time.Millisecond), len(objs), humanBytes(bytes))
	for i, o := range objs {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more\n", len(objs)-10)
			break
		}
		fmt.Fprintf(w, "  %s  %s\n", termSafe(o.Key), humanBytes(o.Size))
	}
	return nil
}

func printSchema(w io.Writer, sch schema.Schema) {
	t := newTable(w, "COLUMN", "TYPE", "MODE")
	for _, f := range sch {
		t.row(f.Name, f.TypeName(), f.Mode)
	}
	t.flush()
}
