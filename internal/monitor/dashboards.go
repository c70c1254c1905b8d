package monitor

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// PanelKind is how a panel draws its queries.
type PanelKind string

// The kinds of panel.
const (
	// KindTimeseries draws each series as a line over time.
	KindTimeseries PanelKind = "timeseries"
	// KindStat shows one number, the latest value of its query.
	KindStat PanelKind = "stat"
	// KindTable lists the series of its instant queries, one per row.
	KindTable PanelKind = "table"
	// KindBar draws the series as stacked bars over time.
	KindBar PanelKind = "bar"
)

// Units of the panels' values, as Grafana names them; CloudMonitoring
// writes them as Cloud Monitoring's (UCUM) units.
const (
	UnitSeconds        = "s"
	UnitRatio          = "percentunit" // 0–1, shown as a percentage
	UnitCount          = "short"
	UnitBytes          = "bytes"
	UnitBytesPerSecond = "Bps"
)

// GridColumns is the width of Grafana's dashboard grid; a panel's Width
// is in its columns. Cloud Monitoring's mosaic layout has twice as many.
const GridColumns = 24

// PipelineFilter is the label matcher by which every series with a
// pipeline label is narrowed to the pipelines chosen in Grafana's
// pipeline variable. CloudMonitoring removes it: its dashboards show all
// pipelines.
const PipelineFilter = `pipeline=~"$pipeline"`

// Query is one PromQL expression of a panel.
type Query struct {
	// Expr is the expression, with PipelineFilter in every selector of a
	// metric that has a pipeline label.
	Expr string
	// Legend names each series in Grafana: {{label}} is a label's value.
	Legend string
}

// Threshold colours a panel's value from Value on (or, with Below, under
// Value): Color is "yellow" or "red".
type Threshold struct {
	Value float64
	Color string
	Below bool
}

// Panel is one chart, number or table of a dashboard.
type Panel struct {
	Title       string
	Description string
	Kind        PanelKind
	Unit        string
	Queries     []Query
	// Width and Height are in grid columns (of GridColumns) and rows;
	// panels are laid out left to right, a new row when one does not fit.
	Width, Height int
	// Min and Max bound the value axis when set.
	Min, Max *float64
	// Thresholds colour a stat's value.
	Thresholds []Threshold
	// ValueColumn is the header of a table's value column; empty hides
	// the column (its rows' labels say it all).
	ValueColumn string
}

// Dashboard is one of shp's dashboards.
type Dashboard struct {
	// UID is the dashboard's stable id, its file name without .json.
	UID         string
	Title       string
	Description string
	Panels      []Panel
}

// DashboardFile is a rendered dashboard: its file name and JSON.
type DashboardFile struct {
	Name string
	JSON []byte
}

// Windows of the expressions: increase and rate over an hour suit runs
// that are hourly or rarer (a shorter window is mostly empty between
// runs), and the stats count a day.
const (
	window = "1h"
	day    = "24h"
)

// bound is a panel's Min or Max.
func bound(v float64) *float64 { return &v }

// Dashboards are shp's four dashboards over its Prometheus metrics (see
// metrics.go, and the warehouse cost counters of the API's /metrics):
// Pipeline Overview, Data Quality, Self-Healing Activity and Performance.
func Dashboards() []Dashboard {
	return []Dashboard{overviewDashboard(), qualityDashboard(), healingDashboard(), performanceDashboard()}
}

func overviewDashboard() Dashboard {
	return Dashboard{UID: "shp-overview", Title: "Pipeline Overview",
		Description: "shp pipelines: runs and their status, time since the last success, data freshness, run durations and rows.",
		Panels: []Panel{
			{Title: "Runs (24h)", Kind: KindStat, Unit: UnitCount, Width: 6, Height: 4,
				Description: "Runs the shp serve process finished in the last 24 hours.",
				Queries:     []Query{{Expr: `sum(increase(shp_pipeline_runs_total{pipeline=~"$pipeline"}[` + day + `]))`}}},
			{Title: "Pipelines whose last run failed", Kind: KindStat, Unit: UnitCount, Width: 6, Height: 4,
				Thresholds: []Threshold{{Value: 1, Color: "red"}},
				Queries:    []Query{{Expr: `count(shp_pipeline_last_run_status{pipeline=~"$pipeline",status="failed"} == 1) or vector(0)`}}},
			{Title: "Pipelines held for a decision", Kind: KindStat, Unit: UnitCount, Width: 6, Height: 4,
				Description: "Held runs wait for shp healing approve or reject.",
				Thresholds:  []Threshold{{Value: 1, Color: "yellow"}},
				Queries:     []Query{{Expr: `count(shp_pipeline_last_run_status{pipeline=~"$pipeline",status="held"} == 1) or vector(0)`}}},
			{Title: "Longest time since a success", Kind: KindStat, Unit: UnitSeconds, Width: 6, Height: 4,
				Queries: []Query{{Expr: `max(shp_pipeline_seconds_since_success{pipeline=~"$pipeline"})`}}},
			{Title: "Runs by status", Kind: KindBar, Unit: UnitCount, Width: 12, Height: 8,
				Description: "Finished runs per hour by final status.",
				Queries:     []Query{{Expr: `sum by (status) (increase(shp_pipeline_runs_total{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{status}}"}}},
			{Title: "Last run status", Kind: KindTable, Unit: UnitCount, Width: 12, Height: 8,
				Description: "The status of each pipeline's last finished run.",
				Queries:     []Query{{Expr: `shp_pipeline_last_run_status{pipeline=~"$pipeline"} == 1`}}},
			{Title: "Time since last success and data freshness", Kind: KindTimeseries, Unit: UnitSeconds, Width: 12, Height: 8,
				Description: "How long ago each pipeline's last successful run ended, and the age of the newest event it loaded (event_time).",
				Queries: []Query{
					{Expr: `max by (pipeline) (shp_pipeline_seconds_since_success{pipeline=~"$pipeline"})`, Legend: "{{pipeline}} since success"},
					{Expr: `max by (pipeline) (shp_pipeline_freshness_seconds{pipeline=~"$pipeline"})`, Legend: "{{pipeline}} freshness"},
				}},
			{Title: "Run duration p50 and p95", Kind: KindTimeseries, Unit: UnitSeconds, Width: 12, Height: 8,
				Queries: []Query{
					{Expr: `histogram_quantile(0.5, sum by (pipeline, le) (rate(shp_pipeline_run_duration_seconds_bucket{pipeline=~"$pipeline"}[` + window + `])))`,
						Legend: "{{pipeline}} p50"},
					{Expr: `histogram_quantile(0.95, sum by (pipeline, le) (rate(shp_pipeline_run_duration_seconds_bucket{pipeline=~"$pipeline"}[` + window + `])))`,
						Legend: "{{pipeline}} p95"},
				}},
			{Title: "Rows by outcome", Kind: KindTimeseries, Unit: UnitCount, Width: 24, Height: 8,
				Description: "Rows per hour: in (read from the source), loaded, quarantined and deduplicated.",
				Queries:     []Query{{Expr: `sum by (outcome) (increase(shp_pipeline_rows_total{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{outcome}}"}}},
		}}
}

func qualityDashboard() Dashboard {
	return Dashboard{UID: "shp-quality", Title: "Data Quality",
		Description: "shp data quality: the quality score and failed rules of each pipeline's last validated run, and the rows quarantined.",
		Panels: []Panel{
			{Title: "Lowest quality score", Kind: KindStat, Unit: UnitCount, Width: 8, Height: 4, Min: bound(0), Max: bound(100),
				Description: "The lowest score (0–100) of the pipelines' last validated runs.",
				Thresholds:  []Threshold{{Value: 80, Color: "red", Below: true}, {Value: 95, Color: "yellow", Below: true}},
				Queries:     []Query{{Expr: `min(shp_pipeline_quality_score{pipeline=~"$pipeline"})`}}},
			{Title: "Failed rules", Kind: KindStat, Unit: UnitCount, Width: 8, Height: 4,
				Description: "Quality rules that failed on the pipelines' last validated runs.",
				Thresholds:  []Threshold{{Value: 1, Color: "yellow"}},
				Queries:     []Query{{Expr: `sum(shp_pipeline_failed_rules{pipeline=~"$pipeline"})`}}},
			{Title: "Rows quarantined (24h)", Kind: KindStat, Unit: UnitCount, Width: 8, Height: 4,
				Queries: []Query{{Expr: `sum(increase(shp_pipeline_rows_total{pipeline=~"$pipeline",outcome="quarantined"}[` + day + `]))`}}},
			{Title: "Quality score by pipeline", Kind: KindTimeseries, Unit: UnitCount, Width: 12, Height: 8, Min: bound(0), Max: bound(100),
				Description: "The score (0–100) of each pipeline's last validated run.",
				Queries:     []Query{{Expr: `shp_pipeline_quality_score{pipeline=~"$pipeline"}`, Legend: "{{pipeline}}"}}},
			{Title: "Failed rules by pipeline", Kind: KindTimeseries, Unit: UnitCount, Width: 12, Height: 8, Min: bound(0),
				Queries: []Query{{Expr: `shp_pipeline_failed_rules{pipeline=~"$pipeline"}`, Legend: "{{pipeline}}"}}},
			{Title: "Quarantine ratio", Kind: KindTimeseries, Unit: UnitRatio, Width: 12, Height: 8, Min: bound(0), Max: bound(1),
				Description: "The share of the last run's rows that were quarantined (the error rate).",
				Queries:     []Query{{Expr: `shp_pipeline_quarantine_ratio{pipeline=~"$pipeline"}`, Legend: "{{pipeline}}"}}},
			{Title: "Rows quarantined per hour", Kind: KindBar, Unit: UnitCount, Width: 12, Height: 8,
				Queries: []Query{{Expr: `sum by (pipeline) (increase(shp_pipeline_rows_total{pipeline=~"$pipeline",outcome="quarantined"}[` + window + `]))`,
					Legend: "{{pipeline}}"}}},
		}}
}

func healingDashboard() Dashboard {
	return Dashboard{UID: "shp-healing", Title: "Self-Healing Activity",
		Description: "shp self-healing: the actions on record by strategy and status, the success rate, and the notifications sent.",
		Panels: []Panel{
			{Title: "Self-healing success rate", Kind: KindStat, Unit: UnitRatio, Width: 8, Height: 4, Min: bound(0), Max: bound(1),
				Description: "Actions applied, approved or resolved over those plus the ones rolled back or failed.",
				Thresholds:  []Threshold{{Value: 0.8, Color: "red", Below: true}, {Value: 0.95, Color: "yellow", Below: true}},
				Queries: []Query{{Expr: `sum(shp_healing_actions{pipeline=~"$pipeline",outcome=~"applied|approved|resolved"})
  / sum(shp_healing_actions{pipeline=~"$pipeline",outcome=~"applied|approved|resolved|rolled_back|failed"})`}}},
			{Title: "Actions waiting for a person", Kind: KindStat, Unit: UnitCount, Width: 8, Height: 4,
				Description: "Proposed and escalated actions: shp healing actions --status proposed.",
				Thresholds:  []Threshold{{Value: 1, Color: "yellow"}},
				Queries:     []Query{{Expr: `sum(shp_healing_actions{pipeline=~"$pipeline",outcome=~"proposed|escalated"}) or vector(0)`}}},
			{Title: "Notifications failed (24h)", Kind: KindStat, Unit: UnitCount, Width: 8, Height: 4,
				Description: "Notifications parked as failed after their last try: shp alerts notifications --status failed.",
				Thresholds:  []Threshold{{Value: 1, Color: "red"}},
				Queries:     []Query{{Expr: `sum(increase(shp_notifications_total{outcome="failed"}[` + day + `])) or vector(0)`}}},
			{Title: "Healing actions by status", Kind: KindTimeseries, Unit: UnitCount, Width: 12, Height: 8,
				Description: "Actions on record by their status now (a proposed action, once approved, moves).",
				Queries:     []Query{{Expr: `sum by (outcome) (shp_healing_actions{pipeline=~"$pipeline"})`, Legend: "{{outcome}}"}}},
			{Title: "Healing actions by strategy", Kind: KindBar, Unit: UnitCount, Width: 12, Height: 8,
				Queries: []Query{{Expr: `sum by (strategy) (shp_healing_actions{pipeline=~"$pipeline"})`, Legend: "{{strategy}}"}}},
			{Title: "Success rate by pipeline", Kind: KindTimeseries, Unit: UnitRatio, Width: 12, Height: 8, Min: bound(0), Max: bound(1),
				Queries: []Query{{Expr: `shp_healing_success_ratio{pipeline=~"$pipeline"}`, Legend: "{{pipeline}}"}}},
			{Title: "Actions on record", Kind: KindTable, Unit: UnitCount, Width: 12, Height: 8, ValueColumn: "actions",
				Queries: []Query{{Expr: `sum by (pipeline, strategy, outcome) (shp_healing_actions{pipeline=~"$pipeline"})`}}},
			{Title: "Notifications by outcome", Kind: KindBar, Unit: UnitCount, Width: 24, Height: 8,
				Description: "Notifications per hour by receiver and outcome: sent, retried, failed (parked), suppressed (silenced).",
				Queries:     []Query{{Expr: `sum by (receiver, outcome) (increase(shp_notifications_total[` + window + `]))`, Legend: "{{receiver}} {{outcome}}"}}},
		}}
}

func performanceDashboard() Dashboard {
	return Dashboard{UID: "shp-performance", Title: "Performance",
		Description: "shp performance: throughput, run and stage durations, scheduler lag, and the warehouse's bytes billed and slot time.",
		Panels: []Panel{
			{Title: "Rows loaded per second", Kind: KindTimeseries, Unit: UnitCount, Width: 12, Height: 8,
				Description: "Rows loaded per second of run time (rows loaded over the runs' durations in the hour).",
				Queries: []Query{{Expr: `sum by (pipeline) (rate(shp_pipeline_rows_total{pipeline=~"$pipeline",outcome="loaded"}[` + window + `]))
  / sum by (pipeline) (rate(shp_pipeline_run_duration_seconds_sum{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{pipeline}}"}}},
			{Title: "Bytes read per second", Kind: KindTimeseries, Unit: UnitBytesPerSecond, Width: 12, Height: 8,
				Description: "Bytes read from the source per second of run time.",
				Queries: []Query{{Expr: `sum by (pipeline) (rate(shp_pipeline_bytes_total{pipeline=~"$pipeline"}[` + window + `]))
  / sum by (pipeline) (rate(shp_pipeline_run_duration_seconds_sum{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{pipeline}}"}}},
			{Title: "Stage duration p95", Kind: KindTimeseries, Unit: UnitSeconds, Width: 12, Height: 8,
				Description: "The 95th percentile of the time runs spent in each stage: extract, stage, validate, heal, commit.",
				Queries: []Query{{Expr: `histogram_quantile(0.95, sum by (stage, le) (rate(shp_pipeline_stage_duration_seconds_bucket{pipeline=~"$pipeline"}[` + window + `])))`,
					Legend: "{{stage}}"}}},
			{Title: "Time spent per stage", Kind: KindBar, Unit: UnitSeconds, Width: 12, Height: 8,
				Description: "Seconds per hour the runs spent in each stage.",
				Queries: []Query{{Expr: `sum by (stage) (increase(shp_pipeline_stage_duration_seconds_sum{pipeline=~"$pipeline"}[` + window + `]))`,
					Legend: "{{stage}}"}}},
			{Title: "Run duration p95", Kind: KindTimeseries, Unit: UnitSeconds, Width: 12, Height: 8,
				Queries: []Query{{Expr: `histogram_quantile(0.95, sum by (pipeline, le) (rate(shp_pipeline_run_duration_seconds_bucket{pipeline=~"$pipeline"}[` + window + `])))`,
					Legend: "{{pipeline}}"}}},
			{Title: "Scheduler lag p50 and p95", Kind: KindTimeseries, Unit: UnitSeconds, Width: 12, Height: 8,
				Description: "How long after their due time scheduled runs started.",
				Queries: []Query{
					{Expr: `histogram_quantile(0.5, sum by (le) (rate(shp_scheduler_lag_seconds_bucket[` + window + `])))`, Legend: "p50"},
					{Expr: `histogram_quantile(0.95, sum by (le) (rate(shp_scheduler_lag_seconds_bucket[` + window + `])))`, Legend: "p95"},
				}},
			{Title: "Warehouse bytes billed and processed", Kind: KindBar, Unit: UnitBytes, Width: 12, Height: 8,
				Description: "Bytes per hour the warehouse billed and processed for the runs (warehouses that report cost: BigQuery).",
				Queries: []Query{
					{Expr: `sum by (pipeline) (increase(shp_warehouse_bytes_billed_total{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{pipeline}} billed"},
					{Expr: `sum by (pipeline) (increase(shp_warehouse_bytes_processed_total{pipeline=~"$pipeline"}[` + window + `]))`, Legend: "{{pipeline}} processed"},
				}},
			{Title: "Warehouse slot time", Kind: KindBar, Unit: UnitSeconds, Width: 12, Height: 8,
				Description: "Slot-seconds per hour the warehouse jobs of the runs took.",
				Queries: []Query{{Expr: `sum by (pipeline) (increase(shp_warehouse_slot_milliseconds_total{pipeline=~"$pipeline"}[` + window + `])) / 1000`,
					Legend: "{{pipeline}}"}}},
		}}
}

// gridPos is a panel's place on Grafana's grid.
type gridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// layout places the panels left to right, starting a row when the next
// one does not fit in columns.
func layout(panels []Panel, columns int) ([]gridPos, error) {
	out := make([]gridPos, len(panels))
	x, y, rowH := 0, 0, 0
	for i, p := range panels {
		if p.Width <= 0 || p.Width > columns || p.Height <= 0 {
			return nil, fmt.Errorf("panel %q: size %dx%d does not fit %d columns", p.Title, p.Width, p.Height, columns)
		}
		if x+p.Width > columns {
			x, y, rowH = 0, y+rowH, 0
		}
		out[i] = gridPos{X: x, Y: y, W: p.Width, H: p.Height}
		x += p.Width
		rowH = max(rowH, p.Height)
	}
	return out, nil
}

// check refuses a dashboard that cannot be rendered.
func (d Dashboard) check() error {
	if d.UID == "" || d.Title == "" {
		return fmt.Errorf("a dashboard needs a uid and a title (%q, %q)", d.UID, d.Title)
	}
	for _, p := range d.Panels {
		if len(p.Queries) == 0 {
			return fmt.Errorf("dashboard %s: panel %q has no query", d.UID, p.Title)
		}
		switch p.Kind {
		case KindTimeseries, KindStat, KindTable, KindBar:
		default:
			return fmt.Errorf("dashboard %s: panel %q is of an unknown kind %q", d.UID, p.Title, p.Kind)
		}
		for _, t := range p.Thresholds {
			if t.Color != "yellow" && t.Color != "red" {
				return fmt.Errorf("dashboard %s: panel %q: a threshold is yellow or red, not %q", d.UID, p.Title, t.Color)
			}
			if t.Below != p.Thresholds[0].Below {
				return fmt.Errorf("dashboard %s: panel %q: thresholds are all below or all above", d.UID, p.Title)
			}
		}
	}
	return nil
}

// render checks every board and writes each with enc, as indented JSON
// named UID.json.
func render(boards []Dashboard, enc func(Dashboard) (any, error)) ([]DashboardFile, error) {
	files := make([]DashboardFile, 0, len(boards))
	seen := map[string]bool{}
	for _, d := range boards {
		if err := d.check(); err != nil {
			return nil, err
		}
		if seen[d.UID] {
			return nil, fmt.Errorf("two dashboards have the uid %s", d.UID)
		}
		seen[d.UID] = true
		v, err := enc(d)
		if err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		files = append(files, DashboardFile{Name: d.UID + ".json", JSON: append(b, '\n')})
	}
	return files, nil
}

// Grafana dashboard JSON (schema version 39).

type grafanaRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// grafanaDatasource is the datasource variable every panel and query
// reads from.
var grafanaDatasource = grafanaRef{Type: "prometheus", UID: "${datasource}"}

type grafanaDashboard struct {
	ID            *int              `json:"id"`
	UID           string            `json:"uid"`
	Title         string            `json:"title"`
	Description   string            `json:"description,omitempty"`
	Tags          []string          `json:"tags"`
	Timezone      string            `json:"timezone"`
	Editable      bool              `json:"editable"`
	GraphTooltip  int               `json:"graphTooltip"`
	SchemaVersion int               `json:"schemaVersion"`
	Version       int               `json:"version"`
	Refresh       string            `json:"refresh"`
	Time          map[string]string `json:"time"`
	Links         []map[string]any  `json:"links"`
	Annotations   map[string]any    `json:"annotations"`
	Templating    grafanaTemplating `json:"templating"`
	Panels        []grafanaPanel    `json:"panels"`
}

type grafanaTemplating struct {
	List []map[string]any `json:"list"`
}

type grafanaPanel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	Datasource      grafanaRef       `json:"datasource"`
	GridPos         gridPos          `json:"gridPos"`
	FieldConfig     map[string]any   `json:"fieldConfig"`
	Options         map[string]any   `json:"options"`
	Targets         []grafanaTarget  `json:"targets"`
	Transformations []map[string]any `json:"transformations,omitempty"`
}

type grafanaTarget struct {
	RefID        string     `json:"refId"`
	Datasource   grafanaRef `json:"datasource"`
	EditorMode   string     `json:"editorMode"`
	Expr         string     `json:"expr"`
	LegendFormat string     `json:"legendFormat,omitempty"`
	Range        bool       `json:"range"`
	Instant      bool       `json:"instant"`
	Format       string     `json:"format"`
}

// Grafana writes each dashboard as Grafana dashboard JSON: a datasource
// variable of type prometheus, a pipeline variable (multi-valued, with
// All) that the expressions filter by, panels on the 24-column grid, and
// the tag shp. The files can be imported or provisioned as they are.
func Grafana(boards []Dashboard) ([]DashboardFile, error) {
	return render(boards, func(d Dashboard) (any, error) {
		pos, err := layout(d.Panels, GridColumns)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		g := grafanaDashboard{
			UID: d.UID, Title: d.Title, Description: d.Description, Tags: []string{"shp"}, Timezone: "browser", Editable: true,
			GraphTooltip: 1, SchemaVersion: 39, Version: 1, Refresh: "1m", Time: map[string]string{"from": "now-24h", "to": "now"},
			Links: []map[string]any{{"type": "dashboards", "tags": []string{"shp"}, "title": "shp dashboards", "asDropdown": false,
				"includeVars": true, "keepTime": true, "icon": "external link", "targetBlank": false}},
			Annotations: map[string]any{"list": []any{}},
			Templating:  grafanaTemplating{List: grafanaVariables()},
			Panels:      make([]grafanaPanel, 0, len(d.Panels)),
		}
		for i, p := range d.Panels {
			g.Panels = append(g.Panels, grafanaPanelOf(i+1, p, pos[i]))
		}
		return g, nil
	})
}

func grafanaVariables() []map[string]any {
	const values = "label_values(shp_pipeline_runs_total, pipeline)"
	return []map[string]any{
		{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "refresh": 1, "hide": 0,
			"regex": "", "current": map[string]any{}, "options": []any{}},
		{"name": "pipeline", "label": "Pipeline", "type": "query", "datasource": grafanaDatasource,
			"query": values, "definition": values, "refresh": 2, "hide": 0, "regex": "", "sort": 1,
			"multi": true, "includeAll": true, "allValue": ".*", "options": []any{},
			"current": map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}},
	}
}

func grafanaPanelOf(id int, p Panel, pos gridPos) grafanaPanel {
	defaults := map[string]any{"unit": p.Unit}
	if p.Min != nil {
		defaults["min"] = *p.Min
	}
	if p.Max != nil {
		defaults["max"] = *p.Max
	}
	defaults["thresholds"] = map[string]any{"mode": "absolute", "steps": grafanaSteps(p.Thresholds)}
	gp := grafanaPanel{ID: id, Title: p.Title, Description: p.Description, Datasource: grafanaDatasource, GridPos: pos,
		FieldConfig: map[string]any{"defaults": defaults, "overrides": []any{}}}
	legend := map[string]any{"showLegend": true, "displayMode": "table", "placement": "bottom", "calcs": []string{"lastNotNull", "max"}}
	tooltip := map[string]any{"mode": "multi", "sort": "desc"}
	instant := false
	switch p.Kind {
	case KindStat:
		gp.Type = "stat"
		defaults["color"] = map[string]any{"mode": "thresholds"}
		gp.Options = map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto", "textMode": "auto"}
	case KindTable:
		gp.Type = "table"
		instant = true
		gp.Options = map[string]any{"showHeader": true, "cellHeight": "sm", "footer": map[string]any{"show": false}}
		hide := map[string]bool{"Time": true, "__name__": true}
		rename := map[string]string{}
		if p.ValueColumn == "" {
			hide["Value"] = true
		} else {
			rename["Value"] = p.ValueColumn
		}
		gp.Transformations = []map[string]any{{"id": "organize", "options": map[string]any{
			"excludeByName": hide, "renameByName": rename, "indexByName": map[string]int{}}}}
	case KindBar:
		gp.Type = "timeseries"
		defaults["custom"] = map[string]any{"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1, "showPoints": "never",
			"stacking": map[string]any{"mode": "normal", "group": "A"}}
		gp.Options = map[string]any{"legend": legend, "tooltip": tooltip}
	default:
		gp.Type = "timeseries"
		defaults["custom"] = map[string]any{"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "showPoints": "never",
			"spanNulls": true, "stacking": map[string]any{"mode": "none", "group": "A"}}
		gp.Options = map[string]any{"legend": legend, "tooltip": tooltip}
	}
	for i, q := range p.Queries {
		t := grafanaTarget{RefID: string(rune('A' + i)), Datasource: grafanaDatasource, EditorMode: "code", Expr: q.Expr,
			LegendFormat: q.Legend, Range: !instant, Instant: instant, Format: "time_series"}
		if instant {
			t.Format = "table"
		}
		gp.Targets = append(gp.Targets, t)
	}
	return gp
}

// grafanaSteps turns thresholds into Grafana's ascending colour steps:
// green below the thresholds (above them, with Below).
func grafanaSteps(ts []Threshold) []map[string]any {
	sorted := append([]Threshold(nil), ts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Value < sorted[j].Value })
	step := func(color string, v any) map[string]any { return map[string]any{"color": color, "value": v} }
	var above, below []Threshold
	for _, t := range sorted {
		if t.Below {
			below = append(below, t)
		} else {
			above = append(above, t)
		}
	}
	// Below thresholds colour from the bottom: the lowest's colour up to
	// it, the next's up to that, green above the last.
	base := "green"
	if len(below) > 0 {
		base = below[0].Color
	}
	steps := []map[string]any{step(base, nil)}
	for i, t := range below {
		next := "green"
		if i+1 < len(below) {
			next = below[i+1].Color
		}
		steps = append(steps, step(next, t.Value))
	}
	for _, t := range above {
		steps = append(steps, step(t.Color, t.Value))
	}
	return steps
}

// Cloud Monitoring dashboard JSON (Dashboards API v1).

type cloudDashboard struct {
	DisplayName  string            `json:"displayName"`
	Labels       map[string]string `json:"labels"`
	MosaicLayout cloudMosaic       `json:"mosaicLayout"`
}

type cloudMosaic struct {
	Columns int         `json:"columns"`
	Tiles   []cloudTile `json:"tiles"`
}

type cloudTile struct {
	XPos   int         `json:"xPos"`
	YPos   int         `json:"yPos"`
	Width  int         `json:"width"`
	Height int         `json:"height"`
	Widget cloudWidget `json:"widget"`
}

type cloudWidget struct {
	Title           string          `json:"title"`
	XYChart         *cloudXYChart   `json:"xyChart,omitempty"`
	Scorecard       *cloudScorecard `json:"scorecard,omitempty"`
	TimeSeriesTable *cloudTable     `json:"timeSeriesTable,omitempty"`
}

type cloudQuery struct {
	PrometheusQuery string `json:"prometheusQuery"`
	UnitOverride    string `json:"unitOverride,omitempty"`
}

type cloudDataSet struct {
	TimeSeriesQuery cloudQuery `json:"timeSeriesQuery"`
	PlotType        string     `json:"plotType,omitempty"`
	TargetAxis      string     `json:"targetAxis,omitempty"`
}

type cloudAxis struct {
	Scale string `json:"scale"`
}

type cloudXYChart struct {
	DataSets     []cloudDataSet    `json:"dataSets"`
	YAxis        cloudAxis         `json:"yAxis"`
	ChartOptions map[string]string `json:"chartOptions"`
}

type cloudThreshold struct {
	Value     float64 `json:"value"`
	Color     string  `json:"color"`
	Direction string  `json:"direction"`
}

type cloudScorecard struct {
	TimeSeriesQuery cloudQuery        `json:"timeSeriesQuery"`
	SparkChartView  map[string]string `json:"sparkChartView"`
	Thresholds      []cloudThreshold  `json:"thresholds,omitempty"`
}

type cloudTable struct {
	DataSets []cloudDataSet `json:"dataSets"`
}

// cloudUnits are Cloud Monitoring's units for the panels' units.
var cloudUnits = map[string]string{UnitSeconds: "s", UnitRatio: "10^2.%", UnitCount: "1", UnitBytes: "By", UnitBytesPerSecond: "By/s"}

// pipelineMatchers find PipelineFilter in a selector: alone, first or
// after another matcher.
var (
	pipelineAlone = regexp.MustCompile(`\{\s*` + regexp.QuoteMeta(PipelineFilter) + `\s*\}`)
	pipelineFirst = regexp.MustCompile(regexp.QuoteMeta(PipelineFilter) + `\s*,\s*`)
	pipelineLater = regexp.MustCompile(`\s*,\s*` + regexp.QuoteMeta(PipelineFilter))
)

// WithoutPipelineFilter is expr without PipelineFilter, for where there
// is no pipeline variable: every pipeline.
func WithoutPipelineFilter(expr string) string {
	expr = pipelineAlone.ReplaceAllString(expr, "")
	expr = pipelineFirst.ReplaceAllString(expr, "")
	return pipelineLater.ReplaceAllString(expr, "")
}

// CloudMonitoring writes each dashboard as a Cloud Monitoring dashboard
// (the Dashboards API v1 Dashboard, which the google_monitoring_dashboard
// Terraform resource takes as dashboard_json and gcloud monitoring
// dashboards create as --config-from-file): a 48-column mosaic layout
// whose widgets query Managed Service for Prometheus in PromQL. It has no
// pipeline variable: the expressions cover every pipeline.
func CloudMonitoring(boards []Dashboard) ([]DashboardFile, error) {
	return render(boards, func(d Dashboard) (any, error) {
		pos, err := layout(d.Panels, GridColumns)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		c := cloudDashboard{DisplayName: d.Title, Labels: map[string]string{"shp": ""},
			MosaicLayout: cloudMosaic{Columns: 2 * GridColumns, Tiles: make([]cloudTile, 0, len(d.Panels))}}
		for i, p := range d.Panels {
			c.MosaicLayout.Tiles = append(c.MosaicLayout.Tiles, cloudTile{XPos: 2 * pos[i].X, YPos: 2 * pos[i].Y,
				Width: 2 * pos[i].W, Height: 2 * pos[i].H, Widget: cloudWidgetOf(p)})
		}
		return c, nil
	})
}

func cloudWidgetOf(p Panel) cloudWidget {
	w := cloudWidget{Title: p.Title}
	queries := make([]cloudQuery, len(p.Queries))
	for i, q := range p.Queries {
		queries[i] = cloudQuery{PrometheusQuery: WithoutPipelineFilter(q.Expr), UnitOverride: cloudUnits[p.Unit]}
	}
	sets := func(plot string) []cloudDataSet {
		ds := make([]cloudDataSet, len(queries))
		for i, q := range queries {
			ds[i] = cloudDataSet{TimeSeriesQuery: q, PlotType: plot}
			if plot != "" {
				ds[i].TargetAxis = "Y1"
			}
		}
		return ds
	}
	switch {
	case p.Kind == KindStat && len(queries) == 1:
		sc := &cloudScorecard{TimeSeriesQuery: queries[0], SparkChartView: map[string]string{"sparkChartType": "SPARK_LINE"}}
		for _, t := range p.Thresholds {
			dir := "ABOVE"
			if t.Below {
				dir = "BELOW"
			}
			sc.Thresholds = append(sc.Thresholds, cloudThreshold{Value: t.Value, Color: strings.ToUpper(t.Color), Direction: dir})
		}
		w.Scorecard = sc
	case p.Kind == KindTable:
		w.TimeSeriesTable = &cloudTable{DataSets: sets("")}
	case p.Kind == KindBar:
		w.XYChart = &cloudXYChart{DataSets: sets("STACKED_BAR"), YAxis: cloudAxis{Scale: "LINEAR"}, ChartOptions: map[string]string{"mode": "COLOR"}}
	default:
		w.XYChart = &cloudXYChart{DataSets: sets("LINE"), YAxis: cloudAxis{Scale: "LINEAR"}, ChartOptions: map[string]string{"mode": "COLOR"}}
	}
	return w
}
