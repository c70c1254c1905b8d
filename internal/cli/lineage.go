package cli

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/lineage"
)

// lineageEntry is what feeds one table.
type lineageEntry struct {
	Table     lineageDataset   `json:"table"`
	Inputs    []lineageDataset `json:"inputs"`
	Pipeline  string           `json:"pipeline"`
	LastEvent *lineageLast     `json:"last_event,omitempty"`
}

type lineageDataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type lineageLast struct {
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
}

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
			var entries []lineageEntry
			for _, name := range p.PipelineNames() {
				pl, _ := p.Pipeline(name)
				in := lineage.SourceDataset(p, p.Sources[pl.Source])
				out := lineage.TargetDataset(p, pl.Target)
				entry := lineageEntry{Table: lineageDataset{out.Namespace, out.Name}, Inputs: []lineageDataset{{in.Namespace, in.Name}}, Pipeline: name}
				events, err := svc.store.ListLineage(cmd.Context(), name, 1)
				if err != nil {
					return failedErr(err)
				}
				if len(events) == 1 {
					entry.LastEvent = &lineageLast{Type: events[0].EventType, Time: events[0].EventTime, RunID: events[0].RunID}
					// The datasets the last event names win over the configuration.
					var ev lineage.RunEvent
					if json.Unmarshal([]byte(events[0].Payload), &ev) == nil && len(ev.Inputs) > 0 {
						entry.Inputs = nil
						for _, d := range ev.Inputs {
							entry.Inputs = append(entry.Inputs, lineageDataset{d.Namespace, d.Name})
						}
					}
				}
				entries = append(entries, entry)
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
