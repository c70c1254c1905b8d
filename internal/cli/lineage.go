package cli

import (
	"time"

	"github.com/spf13/cobra"
)

func newLineageCmd(e *env) *cobra.Command {
	var dir, outFormat string
	cmd := &cobra.Command{
		Use:   "lineage",
		Short: "Show what feeds each table: its pipeline, the datasets it reads and its last OpenLineage event",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			svc, err := openServices(cmd.Context(), p, what{store: true})
			if err != nil {
				return err
			}
			defer svc.close()
			entries, err := svc.service().Lineage(cmd.Context())
			if err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, entries)
			}
			t := newTable(e.stdout, "TABLE", "FED BY", "PIPELINE", "LAST EVENT")
			for _, en := range entries {
				last := "-"
				if en.LastEvent != nil {
					last = en.LastEvent.Type + " " + en.LastEvent.Time.Format(time.RFC3339) + " " + en.LastEvent.RunID
				}
				for i, in := range en.Inputs {
					table, pl, l := en.Table.Name, en.Pipeline, last
					if i > 0 {
						table, pl, l = "", "", ""
					}
					t.row(table, in.Namespace+"/"+in.Name, pl, l)
				}
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	return cmd
}
