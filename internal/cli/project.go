package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/sample"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/source"
)

func newInitCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "init DIR",
		Short: "Write a working sample project into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sample.Write(args[0]); err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(e.stdout, "wrote a sample project to %s\nrun it:   shp run --config %s\nquery it: shp query --config %s \"SELECT * FROM sales LIMIT 10\"\n",
				args[0], args[0], args[0])
			return nil
		},
	}
}

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with a project's configuration"}
	var dir string
	validate := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a config folder: syntax, keys, types, references, schema files and quality rules",
		Long: "Check a config folder (DIR, or --config): YAML syntax; the keys, types and values of config.yaml, " +
			"sources.yaml and self_healing.yaml, a warehouse's and each source's against the spec its type registers " +
			"(shp config spec); references between them; schema files; each database or API source's settings, " +
			"without connecting; and the quality rules.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("config") && dir != args[0] {
					return usageErr(fmt.Errorf("give the config folder once: %s or --config %s", args[0], dir))
				}
				dir = args[0]
			}
			args = []string{dir}
			p, err := config.LoadDir(args[0])
			if err == nil {
				err = p.Check()
			}
			if err == nil {
				err = checkSourceSettings(cmd.Context(), p)
			}
			if err == nil {
				// Rules that would fail every run: unknown kwargs, regular
				// expressions DuckDB cannot compile, bounds of the wrong type.
				err = (&service.Service{Project: p}).CheckConfigRules()
			}
			if err != nil {
				var list config.Errors
				if errors.As(err, &list) {
					return usageErr(fmt.Errorf("%s has %d problem(s):\n%w", args[0], len(list), err))
				}
				return usageErr(err)
			}
			fmt.Fprintf(e.stdout, "%s is valid: project %s, pipelines %s, sources %d\n",
				args[0], p.Config.Project, strings.Join(p.PipelineNames(), ", "), len(p.Sources))
			for _, name := range p.PipelineNames() {
				pl := p.Config.Pipelines[name]
				if s, ok := p.Source(pl.Source); ok && pl.ModeImplied() && s.RereadsAll() {
					fmt.Fprintf(e.stdout, "pipeline %s: mode %s (not set): source %s reads every row on every run (no incremental), "+
						"so each run replaces the target; set incremental on the source to append only new rows\n", name, pl.Mode, pl.Source)
				}
			}
			return nil
		},
	}
	validate.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.AddCommand(validate, newSpecCmd(e))
	return cmd
}

// checkSourceSettings lets each extracting source's connector check its
// settings, without connecting.
func checkSourceSettings(ctx context.Context, p *config.Project) error {
	var errs []error
	for _, name := range sortedKeys(p.Sources) {
		src := p.Sources[name]
		if !config.IsExtracting(src.Type) {
			continue
		}
		ex, err := source.NewExtractor(ctx, source.Spec{Name: name, Type: src.Type, BaseDir: p.Dir, Settings: src.Settings})
		if err != nil {
			errs = append(errs, fmt.Errorf("sources.yaml: %w", err))
			continue
		}
		_ = ex.Close()
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
