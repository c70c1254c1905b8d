package pipeline

import (
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/config"
)

// templated returns the source with {{ds}}, {{ds_nodash}}, {{ts}} and
// {{ds_hour}} in its path and settings replaced by the logical date (the
// run's start when it is zero), in UTC, and {{params.NAME}} by params.
func templated(src *config.Source, logical, start time.Time, params map[string]string) *config.Source {
	if src == nil {
		return nil
	}
	if logical.IsZero() {
		logical = start
	}
	t := logical.UTC()
	pairs := []string{
		"{{ds}}", t.Format("2006-01-02"), "{{ ds }}", t.Format("2006-01-02"),
		"{{ds_nodash}}", t.Format("20060102"), "{{ ds_nodash }}", t.Format("20060102"),
		"{{ts}}", t.Format(time.RFC3339), "{{ ts }}", t.Format(time.RFC3339),
		"{{ds_hour}}", t.Format("2006-01-02T15"), "{{ ds_hour }}", t.Format("2006-01-02T15"),
	}
	for k, v := range params {
		pairs = append(pairs, "{{params."+k+"}}", v, "{{ params."+k+" }}", v)
	}
	r := strings.NewReplacer(pairs...)
	out := *src
	out.Path = r.Replace(src.Path)
	if src.Settings != nil {
		out.Settings = replaceAll(src.Settings, r).(map[string]any)
	}
	return &out
}

func replaceAll(v any, r *strings.Replacer) any {
	switch x := v.(type) {
	case string:
		return r.Replace(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = replaceAll(e, r)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = replaceAll(e, r)
		}
		return l
	}
	return v
}
