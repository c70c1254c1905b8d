package pipeline

import (
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// DeclaredParse returns how the warehouse reads the columns whose schema
// field declares a format ("format": "%d/%m/%Y"): with that strptime
// layout, after ISO 8601. A value that neither reads is set aside with its
// reason, and no repair guesses another layout for the column. It returns
// nil when no field declares one.
func DeclaredParse(sch schema.Schema) map[string]warehouse.ColumnParse {
	var out map[string]warehouse.ColumnParse
	for _, f := range sch {
		if f.Format == "" {
			continue
		}
		if out == nil {
			out = map[string]warehouse.ColumnParse{}
		}
		out[f.Name] = warehouse.ColumnParse{Layouts: []string{f.Format}}
	}
	return out
}
