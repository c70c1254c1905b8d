package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/testutil"
)

// grafanaJSON is what the tests read of a Grafana dashboard.
type grafanaJSON struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Tags          []string `json:"tags"`
	SchemaVersion int      `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   string          `json:"allValue"`
			Datasource *grafanaRef     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID          int        `json:"id"`
		Type        string     `json:"type"`
		Title       string     `json:"title"`
		Datasource  grafanaRef `json:"datasource"`
		GridPos     gridPos    `json:"gridPos"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			RefID      string     `json:"refId"`
			Expr       string     `json:"expr"`
			Datasource grafanaRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

// cloudJSON is what the tests read of a Cloud Monitoring dashboard.
type cloudJSON struct {
	DisplayName  string `json:"displayName"`
	MosaicLayout struct {
		Columns int `json:"columns"`
		Tiles   []struct {
			XPos, YPos, Width, Height int
			Widget                    struct {
				Title   string `json:"title"`
				XYChart *struct {
					DataSets []struct {
						TimeSeriesQuery cloudQuery `json:"timeSeriesQuery"`
						PlotType        string     `json:"plotType"`
					} `json:"dataSets"`
				} `json:"xyChart"`
				Scorecard *struct {
					TimeSeriesQuery cloudQuery `json:"timeSeriesQuery"`
				} `json:"scorecard"`
				TimeSeriesTable *struct {
					DataSets []struct {
						TimeSeriesQuery cloudQuery `json:"timeSeriesQuery"`
					} `json:"dataSets"`
				} `json:"timeSeriesTable"`
			} `json:"widget"`
		} `json:"tiles"`
	} `json:"mosaicLayout"`
}

// queries are the PromQL queries of a widget.
func (c cloudJSON) queries(tile int) []string {
	w := c.MosaicLayout.Tiles[tile].Widget
	var qs []string
	switch {
	case w.XYChart != nil:
		for _, d := range w.XYChart.DataSets {
			qs = append(qs, d.TimeSeriesQuery.PrometheusQuery)
		}
	case w.Scorecard != nil:
		qs = append(qs, w.Scorecard.TimeSeriesQuery.PrometheusQuery)
	case w.TimeSeriesTable != nil:
		for _, d := range w.TimeSeriesTable.DataSets {
			qs = append(qs, d.TimeSeriesQuery.PrometheusQuery)
		}
	}
	return qs
}

func renderGrafana(t *testing.T) []grafanaJSON {
	t.Helper()
	files, err := Grafana(Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]grafanaJSON, len(files))
	for i, f := range files {
		if err := json.Unmarshal(f.JSON, &out[i]); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if f.Name != out[i].UID+".json" {
			t.Errorf("file %s holds dashboard %s", f.Name, out[i].UID)
		}
	}
	return out
}

func renderCloud(t *testing.T) []cloudJSON {
	t.Helper()
	files, err := CloudMonitoring(Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]cloudJSON, len(files))
	for i, f := range files {
		if err := json.Unmarshal(f.JSON, &out[i]); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	return out
}

// expressions are the PromQL of every panel as each renderer writes it,
// named by dashboard, panel and query.
func expressions(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{"grafana": {}, "cloud-monitoring": {}}
	for _, d := range renderGrafana(t) {
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				out["grafana"][fmt.Sprintf("%s / %s / %s", d.UID, p.Title, q.RefID)] = q.Expr
			}
		}
	}
	for _, d := range renderCloud(t) {
		for i, tile := range d.MosaicLayout.Tiles {
			for j, q := range d.queries(i) {
				out["cloud-monitoring"][fmt.Sprintf("%s / %s / %d", d.DisplayName, tile.Widget.Title, j)] = q
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDashboardsAreTheFourOfTheSeed(t *testing.T) {
	want := map[string]string{"shp-overview": "Pipeline Overview", "shp-quality": "Data Quality", "shp-healing": "Self-Healing Activity",
		"shp-performance": "Performance"}
	for _, tc := range []struct {
		name   string
		render func([]Dashboard) ([]DashboardFile, error)
		title  func([]byte) string
	}{
		{"grafana", Grafana, func(b []byte) string {
			var g grafanaJSON
			_ = json.Unmarshal(b, &g)
			return g.Title
		}},
		{"cloud-monitoring", CloudMonitoring, func(b []byte) string {
			var c cloudJSON
			_ = json.Unmarshal(b, &c)
			return c.DisplayName
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := tc.render(Dashboards())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range files {
				got[strings.TrimSuffix(f.Name, ".json")] = tc.title(f.JSON)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("dashboards %v, want %v", got, want)
			}
			// The output is the same at every call: a diff of an
			// exported folder shows what changed and nothing else.
			again, _ := tc.render(Dashboards())
			for i := range files {
				if !bytes.Equal(files[i].JSON, again[i].JSON) {
					t.Errorf("%s differs between two renderings", files[i].Name)
				}
			}
		})
	}
}

// TestDashboardExpressionsPassPromtool writes every expression of every
// panel, as Grafana and Cloud Monitoring get it, as a recording rule and
// has promtool parse them.
func TestDashboardExpressionsPassPromtool(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	for target, exprs := range expressions(t) {
		t.Run(target, func(t *testing.T) {
			if len(exprs) < 30 {
				t.Fatalf("%d expressions", len(exprs))
			}
			g := promGroup{Name: "shp.dashboards." + target}
			names := map[string]string{}
			for i, k := range sortedKeys(exprs) {
				rec := "shp_dashboard:expr_" + strconv.Itoa(i)
				names[rec] = k
				g.Rules = append(g.Rules, promRule{Record: rec, Expr: exprs[k]})
			}
			b, err := yaml.MarshalWithOptions(promFile{Groups: []promGroup{g}}, yaml.UseLiteralStyleIfMultiline(true))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "dashboards.yml")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s\n(rules: %v)", err, out, names)
			}
		})
	}
}

// family is a metric shp exports: its type and labels.
type family struct {
	typ    string
	labels map[string]bool
}

// exportedMetrics are the series names shp's /metrics has: those of a
// registry holding the pipeline metrics with a value each (a histogram's
// _bucket, _sum and _count), and the warehouse cost counters the API
// declares in internal/api/metrics.go (which this package cannot import).
func exportedMetrics(t *testing.T) map[string]family {
	t.Helper()
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	addRun(t, s, "orders", "r1", metadata.StatusSucceeded, now.Add(-time.Hour), time.Minute, map[string]float64{"freshness_s": 60})
	if _, err := s.RecordAction(ctx, metadata.HealingAction{RunID: "r1", Pipeline: "orders", Strategy: "dedupe", Status: "applied"}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, s, func() time.Time { return now }, nil)
	m.ObserveRun(RunReport{Pipeline: "orders", SourceType: "file", Status: "succeeded", RowsIn: 10, Loaded: 9, Quarantined: 1, Bytes: 100,
		Duration: time.Second, QualityScore: 90, FailedRules: 1, Stages: map[string]time.Duration{"extract": time.Second}})
	m.ObserveSchedulerLag(time.Second)
	m.ObserveNotification("teams", "sent")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		labels := map[string]bool{}
		for _, mt := range mf.Metric {
			for _, l := range mt.Label {
				labels[l.GetName()] = true
			}
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			withLe := map[string]bool{"le": true}
			for l := range labels {
				withLe[l] = true
			}
			out[mf.GetName()+"_bucket"] = family{"histogram bucket", withLe}
			out[mf.GetName()+"_sum"] = family{"histogram sum", labels}
			out[mf.GetName()+"_count"] = family{"histogram count", labels}
			continue
		}
		out[mf.GetName()] = family{strings.ToLower(mf.GetType().String()), labels}
	}
	// The API's counters: prometheus.NewDesc("name", "help", []string{labels}, nil).
	fset := token.NewFileSet()
	f, err := goparser.ParseFile(fset, filepath.Join("..", "api", "metrics.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "NewDesc" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		labels := map[string]bool{}
		if cl, ok := call.Args[2].(*ast.CompositeLit); ok {
			for _, e := range cl.Elts {
				if l, ok := e.(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(l.Value)
					labels[v] = true
				}
			}
		}
		out[name] = family{"counter", labels}
		return true
	})
	for _, name := range []string{"shp_pipeline_runs_total", "shp_pipeline_run_duration_seconds_bucket", "shp_healing_actions",
		"shp_pipeline_freshness_seconds", "shp_warehouse_bytes_billed_total"} {
		if _, ok := out[name]; !ok {
			t.Fatalf("the registry lacks %s: %v", name, sortedKeys(out))
		}
	}
	return out
}

var (
	// selectorRe is a metric name and its label matchers.
	selectorRe = regexp.MustCompile(`\b(shp_[a-zA-Z0-9_:]*)\s*(?:\{([^}]*)\})?`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRe = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// selector is one metric an expression reads, with its matchers.
type selector struct {
	name     string
	matchers []string // label=~"value"
	labels   []string
}

func selectors(expr string) []selector {
	var out []selector
	for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
		s := selector{name: m[1]}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			s.labels = append(s.labels, mm[1])
			s.matchers = append(s.matchers, mm[1]+mm[2]+`"`+mm[3]+`"`)
		}
		out = append(out, s)
	}
	return out
}

// TestDashboardMetricsExist checks every metric an expression reads
// against the metrics shp exports, with the labels it matches and groups
// by: a renamed metric or label breaks it. And every metric is on a
// dashboard, but for the few said here.
func TestDashboardMetricsExist(t *testing.T) {
	known := exportedMetrics(t)
	used := map[string]bool{}
	for target, exprs := range expressions(t) {
		for _, k := range sortedKeys(exprs) {
			expr := exprs[k]
			sels := selectors(expr)
			if len(sels) == 0 {
				t.Errorf("%s %s reads no shp metric: %s", target, k, expr)
			}
			labels := map[string]bool{"le": false}
			for _, s := range sels {
				f, ok := known[s.name]
				if !ok {
					t.Errorf("%s %s: shp exports no %s", target, k, s.name)
					continue
				}
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.name, "_bucket"), "_sum"), "_count")] = true
				for _, l := range s.labels {
					if !f.labels[l] {
						t.Errorf("%s %s: %s has no label %s", target, k, s.name, l)
					}
				}
				for l := range f.labels {
					labels[l] = true
				}
			}
			for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
				for _, l := range strings.Split(g[1], ",") {
					if l = strings.TrimSpace(l); !labels[l] {
						t.Errorf("%s %s groups by %s, a label none of its metrics has", target, k, l)
					}
				}
			}
		}
	}
	// Left out: the time of the last success is on the dashboards as the
	// seconds since it, and the warehouse's job count says little beside
	// its bytes and slot time. The API's own metrics are the API's.
	leftOut := map[string]bool{"shp_pipeline_last_success_timestamp_seconds": true, "shp_warehouse_jobs_total": true}
	for name, f := range known {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !strings.HasPrefix(f.typ, "histogram") {
			base = name
		}
		if !used[base] && !leftOut[base] {
			t.Errorf("%s (%s) is on no dashboard: add a panel, or say here why it is left out", base, f.typ)
		}
	}
}

type rect struct {
	name       string
	x, y, w, h int
}

// overlaps reports the pairs of rectangles that share a cell, and those
// outside columns.
func overlaps(rs []rect, columns int) []string {
	var bad []string
	for i, a := range rs {
		if a.x < 0 || a.y < 0 || a.w <= 0 || a.h <= 0 || a.x+a.w > columns {
			bad = append(bad, fmt.Sprintf("%s at %+v is outside %d columns", a.name, a, columns))
		}
		for _, b := range rs[i+1:] {
			if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
				bad = append(bad, fmt.Sprintf("%s %+v overlaps %s %+v", a.name, a, b.name, b))
			}
		}
	}
	return bad
}

func TestOverlaps(t *testing.T) {
	for _, tc := range []struct {
		rs   []rect
		want int
	}{
		{[]rect{{"a", 0, 0, 12, 8}, {"b", 12, 0, 12, 8}, {"c", 0, 8, 24, 8}}, 0},
		{[]rect{{"a", 0, 0, 12, 8}, {"b", 11, 0, 12, 8}}, 1},
		{[]rect{{"a", 0, 0, 12, 8}, {"b", 0, 7, 12, 8}}, 1},
		{[]rect{{"a", 20, 0, 12, 8}}, 1},
	} {
		if got := overlaps(tc.rs, 24); len(got) != tc.want {
			t.Errorf("overlaps(%v) = %v, want %d", tc.rs, got, tc.want)
		}
	}
}

func TestGrafanaDashboards(t *testing.T) {
	known := exportedMetrics(t)
	uids := map[string]bool{}
	for _, d := range renderGrafana(t) {
		t.Run(d.UID, func(t *testing.T) {
			if uids[d.UID] || !strings.HasPrefix(d.UID, "shp-") {
				t.Errorf("uid %q is a repeat or not shp-*", d.UID)
			}
			uids[d.UID] = true
			if fmt.Sprint(d.Tags) != "[shp]" || d.SchemaVersion < 39 {
				t.Errorf("tags %v, schemaVersion %d", d.Tags, d.SchemaVersion)
			}
			vars := map[string]int{}
			for i, v := range d.Templating.List {
				vars[v.Name] = i
			}
			ds, ok := vars["datasource"]
			if !ok || d.Templating.List[ds].Type != "datasource" || string(d.Templating.List[ds].Query) != `"prometheus"` {
				t.Errorf("no datasource variable of type prometheus: %+v", d.Templating.List)
			}
			pv, ok := vars["pipeline"]
			if !ok {
				t.Fatalf("no pipeline variable: %+v", d.Templating.List)
			}
			if v := d.Templating.List[pv]; v.Type != "query" || string(v.Query) != `"label_values(shp_pipeline_runs_total, pipeline)"` ||
				!v.Multi || !v.IncludeAll || v.AllValue != ".*" || v.Datasource == nil || *v.Datasource != grafanaDatasource {
				t.Errorf("pipeline variable %+v", v)
			}
			ids := map[int]bool{}
			var rs []rect
			for _, p := range d.Panels {
				if ids[p.ID] || p.ID <= 0 {
					t.Errorf("panel %q: id %d is a repeat", p.Title, p.ID)
				}
				ids[p.ID] = true
				rs = append(rs, rect{p.Title, p.GridPos.X, p.GridPos.Y, p.GridPos.W, p.GridPos.H})
				if p.Datasource != grafanaDatasource {
					t.Errorf("panel %q reads %+v, not ${datasource}", p.Title, p.Datasource)
				}
				switch p.FieldConfig.Defaults.Unit {
				case "s", "percentunit", "short", "bytes", "Bps":
				default:
					t.Errorf("panel %q has the unit %q", p.Title, p.FieldConfig.Defaults.Unit)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, q := range p.Targets {
					if q.Datasource != grafanaDatasource {
						t.Errorf("panel %q query %s reads %+v", p.Title, q.RefID, q.Datasource)
					}
					// Every selector of a metric with a pipeline label
					// follows the pipeline variable.
					for _, s := range selectors(q.Expr) {
						if known[s.name].labels["pipeline"] && !strings.Contains(strings.Join(s.matchers, ","), PipelineFilter) {
							t.Errorf("panel %q query %s: %s is not filtered by $pipeline: %s", p.Title, q.RefID, s.name, q.Expr)
						}
					}
				}
			}
			if len(d.Panels) < 6 {
				t.Errorf("%d panels", len(d.Panels))
			}
			for _, o := range overlaps(rs, GridColumns) {
				t.Error(o)
			}
		})
	}
	if len(uids) != 4 {
		t.Errorf("%d dashboards", len(uids))
	}
}

func TestCloudMonitoringDashboards(t *testing.T) {
	for _, d := range renderCloud(t) {
		t.Run(d.DisplayName, func(t *testing.T) {
			if d.DisplayName == "" || d.MosaicLayout.Columns != 48 || len(d.MosaicLayout.Tiles) < 6 {
				t.Fatalf("displayName %q, %d columns, %d tiles", d.DisplayName, d.MosaicLayout.Columns, len(d.MosaicLayout.Tiles))
			}
			var rs []rect
			for i, tile := range d.MosaicLayout.Tiles {
				rs = append(rs, rect{tile.Widget.Title, tile.XPos, tile.YPos, tile.Width, tile.Height})
				qs := d.queries(i)
				if tile.Widget.Title == "" || len(qs) == 0 {
					t.Errorf("tile %d (%q) has no title or no prometheusQuery", i, tile.Widget.Title)
				}
				for _, q := range qs {
					// Cloud Monitoring has no $pipeline: a query with it
					// would match nothing.
					if q == "" || strings.Contains(q, "$") {
						t.Errorf("tile %q: query %q", tile.Widget.Title, q)
					}
				}
			}
			for _, o := range overlaps(rs, d.MosaicLayout.Columns) {
				t.Error(o)
			}
		})
	}
}

// TestCloudMonitoringDashboardsParse reads each dashboard as the
// Dashboards API v1 Dashboard message of Google's client library, which
// refuses a field it does not know.
func TestCloudMonitoringDashboardsParse(t *testing.T) {
	files, err := CloudMonitoring(Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var d dashboardpb.Dashboard
		if err := protojson.Unmarshal(f.JSON, &d); err != nil {
			t.Errorf("%s is not a Dashboard: %v", f.Name, err)
			continue
		}
		layout := d.GetMosaicLayout()
		if d.GetDisplayName() == "" || layout.GetColumns() != 48 || len(layout.GetTiles()) == 0 {
			t.Errorf("%s: %q, %d columns, %d tiles", f.Name, d.GetDisplayName(), layout.GetColumns(), len(layout.GetTiles()))
		}
		for _, tile := range layout.GetTiles() {
			w := tile.GetWidget()
			var q string
			switch {
			case w.GetXyChart() != nil:
				q = w.GetXyChart().GetDataSets()[0].GetTimeSeriesQuery().GetPrometheusQuery()
			case w.GetScorecard() != nil:
				q = w.GetScorecard().GetTimeSeriesQuery().GetPrometheusQuery()
			case w.GetTimeSeriesTable() != nil:
				q = w.GetTimeSeriesTable().GetDataSets()[0].GetTimeSeriesQuery().GetPrometheusQuery()
			}
			if q == "" {
				t.Errorf("%s: widget %q has no prometheusQuery", f.Name, w.GetTitle())
			}
		}
	}
}

func TestCloudMonitoringWidgets(t *testing.T) {
	below := []Threshold{{Value: 80, Color: "red", Below: true}}
	for _, tc := range []struct {
		panel Panel
		want  string // the widget's JSON holds it
	}{
		{Panel{Title: "n", Kind: KindStat, Unit: UnitRatio, Queries: []Query{{Expr: `sum(shp_healing_success_ratio{pipeline=~"$pipeline"})`}},
			Thresholds: below},
			`"scorecard":{"timeSeriesQuery":{"prometheusQuery":"sum(shp_healing_success_ratio)","unitOverride":"10^2.%"},` +
				`"sparkChartView":{"sparkChartType":"SPARK_LINE"},"thresholds":[{"value":80,"color":"RED","direction":"BELOW"}]}`},
		{Panel{Title: "t", Kind: KindTable, Unit: UnitCount, Queries: []Query{{Expr: `shp_pipeline_failed_rules{pipeline=~"$pipeline"}`}}},
			`"timeSeriesTable":{"dataSets":[{"timeSeriesQuery":{"prometheusQuery":"shp_pipeline_failed_rules","unitOverride":"1"}}]}`},
		{Panel{Title: "b", Kind: KindBar, Unit: UnitBytes, Queries: []Query{{Expr: `shp_warehouse_bytes_billed_total`}}},
			`"plotType":"STACKED_BAR"`},
		{Panel{Title: "l", Kind: KindTimeseries, Unit: UnitSeconds, Queries: []Query{{Expr: `a`}, {Expr: `b`}}},
			`"dataSets":[{"timeSeriesQuery":{"prometheusQuery":"a","unitOverride":"s"},"plotType":"LINE","targetAxis":"Y1"},` +
				`{"timeSeriesQuery":{"prometheusQuery":"b","unitOverride":"s"},"plotType":"LINE","targetAxis":"Y1"}]`},
		// A stat of two queries is a chart: a scorecard shows one.
		{Panel{Title: "s2", Kind: KindStat, Unit: UnitSeconds, Queries: []Query{{Expr: `a`}, {Expr: `b`}}}, `"xyChart"`},
	} {
		b, err := json.Marshal(cloudWidgetOf(tc.panel))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %s lacks %s", tc.panel.Title, b, tc.want)
		}
	}
}

func TestWithoutPipelineFilter(t *testing.T) {
	for in, want := range map[string]string{
		`shp_pipeline_quality_score{pipeline=~"$pipeline"}`:                             `shp_pipeline_quality_score`,
		`shp_pipeline_rows_total{pipeline=~"$pipeline",outcome="loaded"}`:               `shp_pipeline_rows_total{outcome="loaded"}`,
		`shp_pipeline_rows_total{outcome="loaded", pipeline=~"$pipeline"}`:              `shp_pipeline_rows_total{outcome="loaded"}`,
		`x{a="1",pipeline=~"$pipeline",b="2"} / y{ pipeline=~"$pipeline" }`:             `x{a="1",b="2"} / y`,
		`sum(rate(shp_notifications_total[1h]))`:                                        `sum(rate(shp_notifications_total[1h]))`,
		`shp_pipeline_seconds_since_success{pipeline="orders"}`:                         `shp_pipeline_seconds_since_success{pipeline="orders"}`,
		`rate(shp_pipeline_bytes_total{pipeline=~"$pipeline"}[1h]) / rate(s_sum[1h])`:   `rate(shp_pipeline_bytes_total[1h]) / rate(s_sum[1h])`,
		`histogram_quantile(0.95, sum by (le) (rate(b{pipeline=~"$pipeline"}[1h])))`:    `histogram_quantile(0.95, sum by (le) (rate(b[1h])))`,
		`count(shp_pipeline_last_run_status{pipeline=~"$pipeline",status="held"} == 1)`: `count(shp_pipeline_last_run_status{status="held"} == 1)`,
	} {
		if got := WithoutPipelineFilter(in); got != want {
			t.Errorf("WithoutPipelineFilter(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestGrafanaThresholdSteps(t *testing.T) {
	for _, tc := range []struct {
		in   []Threshold
		want string
	}{
		{nil, `[{"color":"green","value":null}]`},
		{[]Threshold{{Value: 1, Color: "red"}}, `[{"color":"green","value":null},{"color":"red","value":1}]`},
		{[]Threshold{{Value: 5, Color: "red"}, {Value: 1, Color: "yellow"}},
			`[{"color":"green","value":null},{"color":"yellow","value":1},{"color":"red","value":5}]`},
		// Under 80 red, under 95 yellow, green above.
		{[]Threshold{{Value: 95, Color: "yellow", Below: true}, {Value: 80, Color: "red", Below: true}},
			`[{"color":"red","value":null},{"color":"yellow","value":80},{"color":"green","value":95}]`},
	} {
		b, _ := json.Marshal(grafanaSteps(tc.in))
		if string(b) != tc.want {
			t.Errorf("grafanaSteps(%+v) = %s, want %s", tc.in, b, tc.want)
		}
	}
}

func TestGrafanaPanelKinds(t *testing.T) {
	files, err := Grafana([]Dashboard{{UID: "k", Title: "K", Panels: []Panel{
		{Title: "stat", Kind: KindStat, Unit: UnitCount, Width: 6, Height: 4, Queries: []Query{{Expr: "a"}}},
		{Title: "table", Kind: KindTable, Unit: UnitCount, Width: 6, Height: 4, ValueColumn: "n", Queries: []Query{{Expr: "a"}}},
		{Title: "hidden", Kind: KindTable, Unit: UnitCount, Width: 6, Height: 4, Queries: []Query{{Expr: "a"}}},
		{Title: "bar", Kind: KindBar, Unit: UnitCount, Width: 6, Height: 4, Queries: []Query{{Expr: "a"}, {Expr: "b", Legend: "{{x}}"}}},
		{Title: "wrapped", Kind: KindTimeseries, Unit: UnitSeconds, Width: 1, Height: 1, Min: bound(0), Max: bound(1), Queries: []Query{{Expr: "a"}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Panels []struct {
			Type            string          `json:"type"`
			GridPos         gridPos         `json:"gridPos"`
			FieldConfig     json.RawMessage `json:"fieldConfig"`
			Transformations json.RawMessage `json:"transformations"`
			Targets         []grafanaTarget `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(files[0].JSON, &g); err != nil {
		t.Fatal(err)
	}
	p := g.Panels
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		return b.String()
	}
	for i := range p {
		p[i].FieldConfig, p[i].Transformations = json.RawMessage(compact(p[i].FieldConfig)), json.RawMessage(compact(p[i].Transformations))
	}
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{p[0].Type == "stat" && p[0].Targets[0].Range && !p[0].Targets[0].Instant, "a stat is a stat of a range query"},
		{p[1].Type == "table" && p[1].Targets[0].Instant && p[1].Targets[0].Format == "table", "a table is of instant queries"},
		{strings.Contains(string(p[1].Transformations), `"renameByName":{"Value":"n"}`), "a table's value column is named"},
		{strings.Contains(string(p[2].Transformations), `"Value":true`), "a table without a value column hides it"},
		{p[3].Type == "timeseries" && strings.Contains(string(p[3].FieldConfig), `"drawStyle":"bars"`), "bars are a time series drawn as bars"},
		{len(p[3].Targets) == 2 && p[3].Targets[1].RefID == "B" && p[3].Targets[1].LegendFormat == "{{x}}", "queries are A, B..."},
		{p[4].GridPos == gridPos{X: 0, Y: 4, W: 1, H: 1}, "a panel that does not fit starts a row"},
		{strings.Contains(string(p[4].FieldConfig), `"max":1,"min":0`), "min and max bound the axis"},
	} {
		if !c.ok {
			t.Errorf("not so: %s\n%s", c.what, files[0].JSON)
		}
	}
}

func TestDashboardRenderingRefuses(t *testing.T) {
	q := []Query{{Expr: "a"}}
	for _, tc := range []struct {
		boards []Dashboard
		want   string
	}{
		{[]Dashboard{{UID: "", Title: "x"}}, "needs a uid and a title"},
		{[]Dashboard{{UID: "a", Title: "A"}, {UID: "a", Title: "B"}}, "two dashboards have the uid a"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: KindStat, Width: 6, Height: 4}}}}, "has no query"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: "pie", Width: 6, Height: 4, Queries: q}}}}, "unknown kind"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: KindStat, Width: 25, Height: 4, Queries: q}}}}, "does not fit"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: KindStat, Width: 6, Height: 0, Queries: q}}}}, "does not fit"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: KindStat, Width: 6, Height: 4, Queries: q,
			Thresholds: []Threshold{{Value: 1, Color: "blue"}}}}}}, "yellow or red"},
		{[]Dashboard{{UID: "a", Title: "A", Panels: []Panel{{Title: "p", Kind: KindStat, Width: 6, Height: 4, Queries: q,
			Thresholds: []Threshold{{Value: 1, Color: "red"}, {Value: 2, Color: "red", Below: true}}}}}}, "all below or all above"},
	} {
		for name, render := range map[string]func([]Dashboard) ([]DashboardFile, error){"grafana": Grafana, "cloud-monitoring": CloudMonitoring} {
			if _, err := render(tc.boards); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s(%+v): %v, want %q", name, tc.boards, err, tc.want)
			}
		}
	}
}

// panelExpr is the expression of a panel's query as Grafana sends it when
// All pipelines are chosen.
func panelExpr(t *testing.T, uid, title string, query int) string {
	t.Helper()
	for _, d := range Dashboards() {
		for _, p := range d.Panels {
			if d.UID == uid && p.Title == title {
				return strings.ReplaceAll(p.Queries[query].Expr, "$pipeline", ".*")
			}
		}
	}
	t.Fatalf("no panel %q on %s", title, uid)
	return ""
}

// TestDashboardExpressionsEvaluate has promtool evaluate some panels over
// series shaped like shp's /metrics: they show what their titles say.
func TestDashboardExpressionsEvaluate(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	dir := t.TempDir()
	type check struct {
		record, expr, labels string
		value                float64
	}
	checks := []check{
		{"failed_pipelines", panelExpr(t, "shp-overview", "Pipelines whose last run failed", 0), "{}", 1},
		{"held_pipelines", panelExpr(t, "shp-overview", "Pipelines held for a decision", 0), "{}", 0},
		{"longest_since_success", panelExpr(t, "shp-overview", "Longest time since a success", 0), "{}", 7200},
		{"healing_success", panelExpr(t, "shp-healing", "Self-healing success rate", 0), "{}", 0.75},
		{"healing_waiting", panelExpr(t, "shp-healing", "Actions waiting for a person", 0), "{}", 2},
		// 600 rows loaded a minute by runs taking 30 s a minute: 20 rows
		// a second of run time.
		{"rows_per_second", panelExpr(t, "shp-performance", "Rows loaded per second", 0), `{pipeline="orders"}`, 20},
		{"slot_seconds", panelExpr(t, "shp-performance", "Warehouse slot time", 0), `{pipeline="orders"}`, 3600},
	}
	g := promGroup{Name: "shp.dashboards.evaluate"}
	var exp strings.Builder
	for _, c := range checks {
		g.Rules = append(g.Rules, promRule{Record: "shp_dashboard:" + c.record, Expr: c.expr})
		fmt.Fprintf(&exp, "      - expr: shp_dashboard:%s\n        eval_time: 60m\n        exp_samples:\n          - labels: 'shp_dashboard:%s%s'\n            value: %v\n",
			c.record, c.record, c.labels, c.value)
	}
	b, err := yaml.Marshal(promFile{Groups: []promGroup{g}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'shp_pipeline_last_run_status{pipeline="orders",status="failed"}'
        values: '1x60'
      - series: 'shp_pipeline_last_run_status{pipeline="orders",status="held"}'
        values: '0x60'
      - series: 'shp_pipeline_last_run_status{pipeline="events",status="failed"}'
        values: '0x60'
      - series: 'shp_pipeline_seconds_since_success{pipeline="orders"}'
        values: '3600+60x60'
      - series: 'shp_pipeline_seconds_since_success{pipeline="events"}'
        values: '60x60'
      - series: 'shp_healing_actions{pipeline="orders",strategy="normalize",outcome="applied"}'
        values: '3x60'
      - series: 'shp_healing_actions{pipeline="orders",strategy="normalize",outcome="rolled_back"}'
        values: '1x60'
      - series: 'shp_healing_actions{pipeline="orders",strategy="dedupe",outcome="proposed"}'
        values: '2x60'
      - series: 'shp_pipeline_rows_total{pipeline="orders",source_type="file",outcome="loaded"}'
        values: '0+600x60'
      - series: 'shp_pipeline_run_duration_seconds_sum{pipeline="orders",status="succeeded"}'
        values: '0+30x60'
      - series: 'shp_warehouse_slot_milliseconds_total{pipeline="orders"}'
        values: '0+60000x60'
    promql_expr_test:
` + exp.String()
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yml"), []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, tests)
	}
}
