package bigquery

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestDateLayouts stages dates written in every layout of
// sqlplan.DateLayouts into DATE, DATETIME and TIMESTAMP columns: each
// reads as DuckDB reads it, a time of day into a DATE only at midnight,
// and text in no layout is set aside.
func TestDateLayouts(t *testing.T) {
	tests := []struct {
		text          string
		date, instant string // "" sets the row aside
	}{
		{"Jan 05 2026 12:30:01", "", "2026-01-05 12:30:01"},
		{"Jan 05 2026 00:00:00", "2026-01-05", "2026-01-05 00:00:00"},
		{"Jan 05 2026 12:30", "", "2026-01-05 12:30:00"},
		{"Jan 05 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"January 05 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"January 5, 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"Jan 5, 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"2026/01/05 23:59:59", "", "2026-01-05 23:59:59"},
		{"2026/01/05", "2026-01-05", "2026-01-05 00:00:00"},
		{"05 Jan 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"05 January 2026", "2026-01-05", "2026-01-05 00:00:00"},
		{"2026-01-05", "2026-01-05", "2026-01-05 00:00:00"},
		{"Jan 32 2026", "", ""},
		{"05/01/2026", "", ""},
		{"yesterday", "", ""},
	}
	for _, col := range []struct{ typ, name string }{{"DATE", "d"}, {"DATETIME", "dt"}, {"TIMESTAMP", "ts"}} {
		t.Run(col.typ, func(t *testing.T) {
			ctx := context.Background()
			w := openTest(t, freshKey())
			var b strings.Builder
			b.WriteString("id," + col.name + "\n")
			var want []string
			for i, tt := range tests {
				fmt.Fprintf(&b, "%d,\"%s\"\n", i, tt.text)
				v := tt.date
				if col.typ != "DATE" {
					v = tt.instant
				}
				if v != "" {
					want = append(want, fmt.Sprintf("%d|%s", i, v))
				}
			}
			sort.Strings(want)
			sch := mustSchema(t, `[{"name":"id","type":"INT64"},{"name":"`+col.name+`","type":"`+col.typ+`"}]`)
			st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r", Pipeline: "p", Target: "t", ObjectKey: "dates.csv",
				Path: writeFile(t, "dates.csv", b.String()), Format: format.CSV, Schema: sch})
			if err != nil {
				t.Fatal(err)
			}
			expr := ident(col.name)
			switch col.typ {
			case "DATETIME":
				expr = "FORMAT_DATETIME('%Y-%m-%d %H:%M:%S', " + expr + ")"
			case "TIMESTAMP":
				expr = "FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%S', " + expr + ", 'UTC')"
			default:
				expr = "CAST(" + expr + " AS STRING)"
			}
			got := lines(t, w, "SELECT id, "+expr+" FROM "+stagingRef(st.Table))
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") || st.Quarantined != int64(len(tests)-len(want)) {
				t.Errorf("staged %q (%d set aside)\nwant   %q", got, st.Quarantined, want)
			}
		})
	}
}
