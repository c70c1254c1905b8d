package pipeline

import (
	"time"

	"github.com/shp-dev/shp/internal/config"
)

// templated returns the source as the run reads it (config.Source.Templated):
// {{ds}}, {{ds_nodash}}, {{ts}} and {{ds_hour}} in its path and settings
// replaced by the logical date (the run's start when it is zero), in UTC,
// and {{params.NAME}} by params, checked against the source's declarations
// and placed so that no value changes the structure of a path, URL or
// query. Parameters the source neither declares nor refers to are left
// out: they may be meant for the pipeline this run is downstream of.
func templated(src *config.Source, logical, start time.Time, params map[string]string) (*config.Source, error) {
	if logical.IsZero() {
		logical = start
	}
	return src.Templated(logical, params, false)
}
