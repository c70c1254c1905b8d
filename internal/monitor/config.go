package monitor

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/notify"
)

// Rule kinds: what an alert rule's condition looks at.
const (
	// KindRunStatus holds while the pipeline's last finished run has one
	// of the rule's statuses (failed, held).
	KindRunStatus = "run_status"
	// KindThreshold compares a metric of the last finished run with a
	// value.
	KindThreshold = "threshold"
	// KindQualityScore holds while the last validated run's quality score
	// is below the rule's value.
	KindQualityScore = "quality_score"
	// KindAnomaly holds while a metric of the last successful run is
	// unusual against the pipeline's history (median and MAD, by weekday
	// when the history is long enough).
	KindAnomaly = "anomaly"
	// KindAbsence holds while the pipeline has not succeeded for longer
	// than expected: after, or twice its schedule's interval. It needs no
	// run to happen: a dead man's switch.
	KindAbsence = "absence"
	// KindPendingApproval holds while a healing action of the pipeline
	// waits for a person: a proposal to approve or reject, or an
	// escalation to resolve.
	KindPendingApproval = "pending_approval"
	// KindBudget holds while a metric summed over the pipeline's runs
	// started in the rule's window (24h by default) is above its value:
	// a cost budget (warehouse_cost_usd, dollars) or a bytes budget
	// (warehouse_bytes_billed). A value of 0 sets no budget.
	KindBudget = "budget"
)

// Kinds are the rule kinds.
var Kinds = []string{KindRunStatus, KindThreshold, KindQualityScore, KindAnomaly, KindAbsence, KindPendingApproval, KindBudget}

// Severities, strongest first.
var Severities = []string{notify.SeverityCritical, notify.SeverityWarning, notify.SeverityInfo}

// Metrics a threshold or anomaly rule can name, besides the batch's own
// (null_rate:COLUMN, repeated_share, freshness_s).
var runMetrics = []string{"rows_in", "rows_loaded", "rows_quarantined", "rows_deduplicated", "quarantine_ratio", "duration_s",
	"bytes", "quality_score", "freshness_s", "warehouse_jobs", "warehouse_bytes_processed", "warehouse_bytes_billed", "warehouse_slot_ms",
	"warehouse_cost_usd"}

// Rule is an alert rule.
type Rule struct {
	Name string
	Kind string
	// Pipelines the rule applies to; empty for all.
	Pipelines []string
	// Metric is what a threshold or anomaly rule looks at.
	Metric string
	// Op and Value: a threshold holds while metric Op Value; a quality
	// score rule while the score is below Value.
	Op    string
	Value float64
	// Statuses of a run_status rule.
	Statuses []string
	// After is how long an absence rule waits since the last success
	// (0: twice the schedule's interval).
	After time.Duration
	// Window is the span a budget rule sums its metric over (24h).
	Window time.Duration
	// Score is how many MADs from the median an anomaly is (3.5 by
	// default); Direction is up, down or both; MinHistory the successful
	// runs needed before the rule speaks (7 by default).
	Score      float64
	Direction  string
	MinHistory int
	Severity   string
	// For is how long the condition must hold before the alert fires.
	For    time.Duration
	Labels map[string]string
	// Summary is a text/template over the alert's Pipeline, Value and
	// Rule; a default per kind when empty.
	Summary string
	summary *template.Template
}

// Override changes a rule for one pipeline.
type Override struct {
	Disabled bool
	Severity string
	For      *time.Duration
	Value    *float64
	After    *time.Duration
	Labels   map[string]string
}

// Config is monitoring.yaml.
type Config struct {
	// Interval is how often shp serve evaluates the rules (30s).
	Interval time.Duration
	// GroupWait is how long a new incident waits for alerts of the same
	// cause before its first notification (30s).
	GroupWait time.Duration
	// GroupWindow is how long after an incident opened an alert of the
	// same source or diagnosis still joins it (10m).
	GroupWindow time.Duration
	// RepeatInterval is how often an open, unacknowledged incident is
	// notified again (4h).
	RepeatInterval time.Duration
	// ResolveWait is how long an incident's alerts must all stay resolved
	// before the incident is (10m): an alert that fires again meanwhile
	// rejoins it.
	ResolveWait time.Duration
	// MaxAttempts bounds the tries of one notification before it is
	// parked as failed (8).
	MaxAttempts int
	// DeliveryTimeout bounds one try of a notification (30s); a process
	// that dies sending one leaves it to others 5 s after that.
	DeliveryTimeout time.Duration
	// ExternalURL is where shp serve is reached, for links in messages.
	ExternalURL string
	Rules       []*Rule
	// Overrides by pipeline, then rule name.
	Overrides map[string]map[string]Override
	Receivers []notify.ReceiverConfig
	// Route sends each incident to receivers; nil when there are none.
	Route *notify.Route
}

// Defaults of monitoring.yaml.
const (
	DefaultInterval        = 30 * time.Second
	DefaultGroupWait       = 30 * time.Second
	DefaultGroupWindow     = 10 * time.Minute
	DefaultRepeatInterval  = 4 * time.Hour
	DefaultResolveWait     = 10 * time.Minute
	DefaultMaxAttempts     = 8
	DefaultDeliveryTimeout = 30 * time.Second
	// DefaultBudgetWindow is the span a budget rule sums over.
	DefaultBudgetWindow = 24 * time.Hour
	defaultScore        = 3.5
	defaultMinHistory   = 7
)

// DefaultRules are the rules a project has without writing any: failed
// and held runs, healing actions waiting for a person, unusual volume,
// duration and quality, and stale data.
func DefaultRules() []*Rule {
	return []*Rule{
		{Name: "run_failed", Kind: KindRunStatus, Statuses: []string{"failed"}, Severity: notify.SeverityCritical},
		{Name: "run_held", Kind: KindRunStatus, Statuses: []string{"held"}, Severity: notify.SeverityWarning},
		{Name: "approval_pending", Kind: KindPendingApproval, Severity: notify.SeverityWarning},
		{Name: "data_stale", Kind: KindAbsence, Severity: notify.SeverityWarning},
		{Name: "volume_anomaly", Kind: KindAnomaly, Metric: "rows_in", Score: defaultScore, Direction: "both", MinHistory: defaultMinHistory,
			Severity: notify.SeverityWarning},
		{Name: "quality_anomaly", Kind: KindAnomaly, Metric: "quality_score", Score: defaultScore, Direction: "down",
			MinHistory: defaultMinHistory, Severity: notify.SeverityWarning},
		{Name: "duration_anomaly", Kind: KindAnomaly, Metric: "duration_s", Score: defaultScore, Direction: "up",
			MinHistory: defaultMinHistory, Severity: notify.SeverityInfo},
		{Name: "null_rate_anomaly", Kind: KindAnomaly, Metric: nullRates, Score: defaultScore, Direction: "up",
			MinHistory: defaultMinHistory, Severity: notify.SeverityWarning},
		{Name: "freshness_anomaly", Kind: KindAnomaly, Metric: "freshness_s", Score: defaultScore, Direction: "up",
			MinHistory: defaultMinHistory, Severity: notify.SeverityWarning},
		// No budget until a pipeline's override sets its value (dollars
		// a day).
		{Name: "cost_budget", Kind: KindBudget, Metric: "warehouse_cost_usd", Window: DefaultBudgetWindow, Severity: notify.SeverityWarning},
	}
}

func init() {
	config.RegisterFileCheck(config.MonitoringFile, func(raw map[string]any) []config.PathError {
		_, problems := ParseConfig(raw)
		return problems
	})
}

// configKeys are the top-level keys of monitoring.yaml.
var configKeys = []string{"evaluation_interval", "group_wait", "group_window", "repeat_interval", "resolve_wait", "max_attempts", "delivery_timeout", "external_url",
	"default_rules", "rules", "overrides", "receivers", "route"}

var ruleKeys = []string{"name", "kind", "pipelines", "metric", "op", "value", "statuses", "after", "score", "direction", "min_history",
	"severity", "for", "labels", "summary", "window"}

var overrideKeys = []string{"disabled", "severity", "for", "value", "after", "labels"}

// names are rule and receiver names: letters, digits, _ and -.
var names = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// parser gathers the problems of monitoring.yaml with their paths.
type parser struct{ problems []config.PathError }

func (p *parser) errorf(path []any, format string, args ...any) {
	p.problems = append(p.problems, config.PathError{Path: slices.Clone(path), Msg: fmt.Sprintf(format, args...)})
}

// ParseConfig reads monitoring.yaml's content (nil: the defaults). The
// problems name the path of each wrong value.
func ParseConfig(raw map[string]any) (*Config, []config.PathError) {
	p := &parser{}
	c := &Config{Interval: DefaultInterval, GroupWait: DefaultGroupWait, GroupWindow: DefaultGroupWindow,
		RepeatInterval: DefaultRepeatInterval, ResolveWait: DefaultResolveWait, MaxAttempts: DefaultMaxAttempts,
		DeliveryTimeout: DefaultDeliveryTimeout}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(configKeys, k) {
			p.errorf([]any{k}, "unknown key %q in %s (allowed: %s)", k, config.MonitoringFile, strings.Join(configKeys, ", "))
		}
	}
	p.duration(raw, []any{"evaluation_interval"}, &c.Interval, time.Second, 24*time.Hour)
	p.duration(raw, []any{"group_wait"}, &c.GroupWait, 0, time.Hour)
	p.duration(raw, []any{"group_window"}, &c.GroupWindow, 0, 7*24*time.Hour)
	p.duration(raw, []any{"repeat_interval"}, &c.RepeatInterval, time.Minute, 30*24*time.Hour)
	p.duration(raw, []any{"resolve_wait"}, &c.ResolveWait, 0, 24*time.Hour)
	p.duration(raw, []any{"delivery_timeout"}, &c.DeliveryTimeout, time.Second, 5*time.Minute)
	if v, ok := raw["max_attempts"]; ok {
		if n, isInt := wholeNumber(v); !isInt || n < 1 || n > 100 {
			p.errorf([]any{"max_attempts"}, "max_attempts must be a whole number from 1 to 100, got %v", v)
		} else {
			c.MaxAttempts = n
		}
	}
	if v, ok := raw["external_url"]; ok {
		s, isString := v.(string)
		if !isString || !(strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) {
			p.errorf([]any{"external_url"}, "external_url must be an http(s) URL, got %v", v)
		} else {
			c.ExternalURL = strings.TrimRight(s, "/")
		}
	}
	defaults := true
	if v, ok := raw["default_rules"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			p.errorf([]any{"default_rules"}, "default_rules must be true or false, got %v", v)
		}
		defaults = b
	}
	if defaults {
		c.Rules = DefaultRules()
	}
	p.rules(raw, c)
	p.overrides(raw, c)
	p.receivers(raw, c)
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	for _, r := range c.Rules {
		r.compile()
	}
	return c, nil
}

func (p *parser) rules(raw map[string]any, c *Config) {
	v, ok := raw["rules"]
	if !ok || v == nil {
		return
	}
	list, isList := v.([]any)
	if !isList {
		p.errorf([]any{"rules"}, "rules must be a list of rules, got %v", v)
		return
	}
	mine := map[string]bool{}
	for i, item := range list {
		at := []any{"rules", i}
		m, isMap := item.(map[string]any)
		if !isMap {
			p.errorf(at, "rules[%d] must be a mapping, got %v", i, item)
			continue
		}
		r := p.rule(m, at)
		if r == nil {
			continue
		}
		if mine[r.Name] {
			p.errorf(append(at, "name"), "rule %q is defined twice", r.Name)
			continue
		}
		mine[r.Name] = true
		// A rule named like a default replaces it.
		if j := slices.IndexFunc(c.Rules, func(o *Rule) bool { return o.Name == r.Name }); j >= 0 {
			c.Rules[j] = r
			continue
		}
		c.Rules = append(c.Rules, r)
	}
}

func (p *parser) rule(m map[string]any, at []any) *Rule {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(ruleKeys, k) {
			p.errorf(append(at, k), "unknown key %q in a rule (allowed: %s)", k, strings.Join(ruleKeys, ", "))
		}
	}
	r := &Rule{Score: defaultScore, MinHistory: defaultMinHistory, Direction: "both", Severity: notify.SeverityWarning}
	before := len(p.problems)
	r.Name = p.str(m, at, "name", true)
	if r.Name != "" && !names.MatchString(r.Name) {
		p.errorf(append(at, "name"), "rule name %q must start with a letter and hold only letters, digits, _ and -", r.Name)
	}
	r.Kind = p.str(m, at, "kind", true)
	if r.Kind != "" && !slices.Contains(Kinds, r.Kind) {
		p.errorf(append(at, "kind"), "kind must be one of %s, got %q", strings.Join(Kinds, ", "), r.Kind)
	}
	if s := p.str(m, at, "severity", false); s != "" {
		if !slices.Contains(Severities, s) {
			p.errorf(append(at, "severity"), "severity must be one of %s, got %q", strings.Join(Severities, ", "), s)
		}
		r.Severity = s
	}
	r.Pipelines = p.strings(m, at, "pipelines")
	r.Statuses = p.strings(m, at, "statuses")
	for j, s := range r.Statuses {
		if s != "failed" && s != "held" && s != "succeeded" {
			p.errorf(append(at, "statuses", j), "a status must be failed, held or succeeded, got %q", s)
		}
	}
	r.Metric = p.str(m, at, "metric", false)
	r.Op = p.str(m, at, "op", false)
	p.number(m, at, "value", &r.Value)
	p.number(m, at, "score", &r.Score)
	p.duration(m, append(at, "after"), &r.After, time.Minute, 365*24*time.Hour)
	p.duration(m, append(at, "for"), &r.For, 0, 7*24*time.Hour)
	r.Window = DefaultBudgetWindow
	p.duration(m, append(at, "window"), &r.Window, time.Hour, 90*24*time.Hour)
	if d := p.str(m, at, "direction", false); d != "" {
		if d != "up" && d != "down" && d != "both" {
			p.errorf(append(at, "direction"), "direction must be up, down or both, got %q", d)
		}
		r.Direction = d
	}
	if v, ok := m["min_history"]; ok {
		if n, isInt := wholeNumber(v); !isInt || n < 3 || n > 1000 {
			p.errorf(append(at, "min_history"), "min_history must be a whole number from 3 to 1000, got %v", v)
		} else {
			r.MinHistory = n
		}
	}
	r.Labels = p.labels(m, at)
	r.Summary = p.str(m, at, "summary", false)
	if r.Summary != "" {
		if _, err := template.New(r.Name).Parse(r.Summary); err != nil {
			p.errorf(append(at, "summary"), "summary is not a valid template: %v", err)
		}
	}
	switch r.Kind {
	case KindRunStatus:
		if len(r.Statuses) == 0 {
			p.errorf(at, "a run_status rule needs statuses, such as [failed]")
		}
	case KindThreshold:
		if !knownMetric(r.Metric) || r.Metric == nullRates {
			p.errorf(append(at, "metric"), "metric must be one of %s, or null_rate:COLUMN, got %q", strings.Join(runMetrics, ", "), r.Metric)
		}
		if !slices.Contains([]string{"<", "<=", ">", ">=", "==", "!="}, r.Op) {
			p.errorf(append(at, "op"), "op must be one of <, <=, >, >=, ==, !=, got %q", r.Op)
		}
		if _, ok := m["value"]; !ok {
			p.errorf(at, "a threshold rule needs a value")
		}
	case KindBudget:
		if !knownMetric(r.Metric) || strings.HasPrefix(r.Metric, "null_rate:") || r.Metric == "quarantine_ratio" || r.Metric == "quality_score" ||
			r.Metric == "freshness_s" {
			p.errorf(append(at, "metric"), "a budget sums a metric over runs: warehouse_cost_usd, warehouse_bytes_billed, rows_in, duration_s or another count, got %q", r.Metric)
		}
		if r.Value < 0 {
			p.errorf(append(at, "value"), "a budget's value must be 0 (none) or more, got %v", r.Value)
		}
	case KindQualityScore:
		if _, ok := m["value"]; !ok || r.Value < 0 || r.Value > 100 {
			p.errorf(at, "a quality_score rule needs a value from 0 to 100 (the score below which it fires)")
		}
	case KindAnomaly:
		if !knownAnomalyMetric(r.Metric) {
			p.errorf(append(at, "metric"), "metric must be one of %s, null_rate:COLUMN or null_rate:* (every column), got %q",
				strings.Join(runMetrics, ", "), r.Metric)
		}
		if r.Score < 1 || r.Score > 50 {
			p.errorf(append(at, "score"), "score must be from 1 to 50, got %v", r.Score)
		}
	}
	if len(p.problems) > before {
		return nil
	}
	return r
}

func knownMetric(m string) bool {
	return slices.Contains(runMetrics, m) || (strings.HasPrefix(m, "null_rate:") && len(m) > len("null_rate:")) || m == "repeated_share"
}

// knownAnomalyMetric is a metric an anomaly rule can watch: a run metric,
// or null_rate:* for every column's.
func knownAnomalyMetric(m string) bool { return knownMetric(m) || m == nullRates }

func (p *parser) overrides(raw map[string]any, c *Config) {
	v, ok := raw["overrides"]
	if !ok || v == nil {
		return
	}
	byPipeline, isMap := v.(map[string]any)
	if !isMap {
		p.errorf([]any{"overrides"}, "overrides must map pipelines to rules, got %v", v)
		return
	}
	c.Overrides = map[string]map[string]Override{}
	for _, pl := range slices.Sorted(maps.Keys(byPipeline)) {
		rules, isMap := byPipeline[pl].(map[string]any)
		if !isMap {
			p.errorf([]any{"overrides", pl}, "overrides.%s must map rule names to changes, got %v", pl, byPipeline[pl])
			continue
		}
		c.Overrides[pl] = map[string]Override{}
		for _, name := range slices.Sorted(maps.Keys(rules)) {
			at := []any{"overrides", pl, name}
			if !slices.ContainsFunc(c.Rules, func(r *Rule) bool { return r.Name == name }) {
				p.errorf(at, "overrides.%s: no rule is named %q", pl, name)
				continue
			}
			m, isMap := rules[name].(map[string]any)
			if !isMap {
				p.errorf(at, "overrides.%s.%s must be a mapping, got %v", pl, name, rules[name])
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if !slices.Contains(overrideKeys, k) {
					p.errorf(append(at, k), "unknown key %q in an override (allowed: %s)", k, strings.Join(overrideKeys, ", "))
				}
			}
			var o Override
			if d, ok := m["disabled"]; ok {
				b, isBool := d.(bool)
				if !isBool {
					p.errorf(append(at, "disabled"), "disabled must be true or false, got %v", d)
				}
				o.Disabled = b
			}
			if s := p.str(m, at, "severity", false); s != "" {
				if !slices.Contains(Severities, s) {
					p.errorf(append(at, "severity"), "severity must be one of %s, got %q", strings.Join(Severities, ", "), s)
				}
				o.Severity = s
			}
			if _, ok := m["for"]; ok {
				var d time.Duration
				p.duration(m, append(at, "for"), &d, 0, 7*24*time.Hour)
				o.For = &d
			}
			if _, ok := m["after"]; ok {
				var d time.Duration
				p.duration(m, append(at, "after"), &d, time.Minute, 365*24*time.Hour)
				o.After = &d
			}
			if _, ok := m["value"]; ok {
				var f float64
				p.number(m, at, "value", &f)
				if r, _ := ruleNamed(c, name); r != nil && r.Kind == KindQualityScore && (f < 0 || f > 100) {
					p.errorf(append(at, "value"), "a quality_score rule's value is from 0 to 100, got %v", f)
				} else if r != nil && r.Kind == KindBudget && f < 0 {
					p.errorf(append(at, "value"), "a budget's value must be 0 (none) or more, got %v", f)
				}
				o.Value = &f
			}
			o.Labels = p.labels(m, at)
			c.Overrides[pl][name] = o
		}
	}
}

func (p *parser) receivers(raw map[string]any, c *Config) {
	if v, ok := raw["receivers"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			p.errorf([]any{"receivers"}, "receivers must be a list, got %s", yamlType(v))
			return
		}
		for i, item := range list {
			at := []any{"receivers", i}
			m, isMap := item.(map[string]any)
			if !isMap {
				p.errorf(at, "receivers[%d] must be a mapping, got %s", i, yamlType(item))
				continue
			}
			rc := notify.ReceiverConfig{Settings: map[string]any{}}
			for k, v := range m {
				switch k {
				case "name", "type":
				default:
					rc.Settings[k] = v
				}
			}
			rc.Name = p.str(m, at, "name", true)
			rc.Type = p.str(m, at, "type", true)
			if rc.Name == "" || rc.Type == "" {
				continue
			}
			if slices.ContainsFunc(c.Receivers, func(o notify.ReceiverConfig) bool { return o.Name == rc.Name }) {
				p.errorf(append(at, "name"), "receiver %q is defined twice", rc.Name)
				continue
			}
			if _, err := notify.New(rc, notify.Options{}); err != nil {
				for _, e := range unjoin(err) {
					var ce *notify.ConfigError
					path := at
					if errors.As(e, &ce) && ce.Key != "" {
						path = append(slices.Clone(at), ce.Key)
					}
					p.errorf(path, "%s", e.Error())
				}
				continue
			}
			c.Receivers = append(c.Receivers, rc)
		}
	}
	v, ok := raw["route"]
	if !ok || v == nil {
		if len(c.Receivers) > 0 {
			// One receiver or several: without a route, every incident
			// goes to all of them.
			c.Route = &notify.Route{Receiver: c.Receivers[0].Name}
			for _, rc := range c.Receivers {
				c.Route.Routes = append(c.Route.Routes, &notify.Route{Receiver: rc.Name, Continue: true})
			}
		}
		return
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		p.errorf([]any{"route"}, "route must be a mapping, got %v", v)
		return
	}
	r, err := notify.ParseRoute(m)
	if err != nil {
		for _, e := range unjoin(err) {
			p.errorf(routePath(e.Error()), "%s", e.Error())
		}
		return
	}
	for _, name := range r.ReceiverNames() {
		if !slices.ContainsFunc(c.Receivers, func(o notify.ReceiverConfig) bool { return o.Name == name }) {
			p.errorf([]any{"route"}, "route: receiver %q is not defined in receivers", name)
		}
	}
	c.Route = r
}

// unjoin splits errors.Join's error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// routePath turns "route.routes[1].matchers[0]: ..." into its path.
func routePath(msg string) []any {
	head, _, _ := strings.Cut(msg, ":")
	var path []any
	for _, part := range strings.Split(head, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			path = append(path, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(idx); err == nil {
				path = append(path, n)
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return path
}

func (p *parser) str(m map[string]any, at []any, key string, required bool) string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			p.errorf(at, "%s is required", key)
		}
		return ""
	}
	s, isString := v.(string)
	if !isString || (required && s == "") {
		p.errorf(append(at, key), "%s must be a string, got %v", key, v)
		return ""
	}
	return s
}

func (p *parser) strings(m map[string]any, at []any, key string) []string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	if s, isString := v.(string); isString {
		return []string{s}
	}
	list, isList := v.([]any)
	if !isList {
		p.errorf(append(at, key), "%s must be a list of strings, got %v", key, v)
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, isString := item.(string)
		if !isString || s == "" {
			p.errorf(append(at, key, i), "%s[%d] must be a string, got %v", key, i, item)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) labels(m map[string]any, at []any) map[string]string {
	v, ok := m["labels"]
	if !ok || v == nil {
		return nil
	}
	lm, isMap := v.(map[string]any)
	if !isMap {
		p.errorf(append(at, "labels"), "labels must map names to strings, got %v", v)
		return nil
	}
	out := map[string]string{}
	for k, val := range lm {
		s, isString := val.(string)
		if !isString || !labelName.MatchString(k) {
			p.errorf(append(at, "labels", k), "label %q must be a name ([a-zA-Z_][a-zA-Z0-9_]*) with a string value, got %v", k, val)
			continue
		}
		if slices.Contains(reservedLabels, k) {
			p.errorf(append(at, "labels", k), "label %q is set by shp (reserved: %s)", k, strings.Join(reservedLabels, ", "))
			continue
		}
		out[k] = s
	}
	return out
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (p *parser) number(m map[string]any, at []any, key string, dst *float64) {
	v, ok := m[key]
	if !ok {
		return
	}
	switch n := v.(type) {
	case int:
		*dst = float64(n)
	case int64:
		*dst = float64(n)
	case uint64:
		*dst = float64(n)
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			p.errorf(append(at, key), "%s must be a finite number, got %v", key, n)
			return
		}
		*dst = n
	default:
		p.errorf(append(at, key), "%s must be a number, got %s", key, yamlType(v))
	}
}

// yamlType names a YAML value's kind for an error, without its content
// (a receiver's settings hold secrets).
func yamlType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// reservedLabels are the labels shp sets on every alert and uses to
// correlate and route: a rule cannot set them.
var reservedLabels = []string{"alertname", "pipeline", "severity", "source", "source_type", "kind", "class", "inhibited_by",
	"diagnosis", "metric", "incident", "cause", "receivers"}

// duration reads a duration such as 30s or 2h at path (its last step is
// the key) into dst, within [lo, hi].
func (p *parser) duration(m map[string]any, path []any, dst *time.Duration, lo, hi time.Duration) {
	key := path[len(path)-1].(string)
	v, ok := m[key]
	if !ok {
		return
	}
	s, isString := v.(string)
	d, err := time.ParseDuration(s)
	if !isString || err != nil || d < lo || d > hi {
		p.errorf(path, "%s must be a duration from %s to %s, such as 30s or 2h, got %v", key, lo, hi, v)
		return
	}
	*dst = d
}

func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), n < 1<<31
	case float64:
		return int(n), n == float64(int(n))
	}
	return 0, false
}

// compile parses the rule's summary template (checked by ParseConfig).
func (r *Rule) compile() {
	if r.Summary != "" {
		r.summary = template.Must(template.New(r.Name).Option("missingkey=zero").Parse(r.Summary))
	}
}

// forPipeline is the rule as it applies to pipeline (its override), and
// whether it applies at all.
func (c *Config) forPipeline(r *Rule, pipeline string) (Rule, bool) {
	if len(r.Pipelines) > 0 && !slices.Contains(r.Pipelines, pipeline) {
		return Rule{}, false
	}
	out := *r
	o, ok := c.Overrides[pipeline][r.Name]
	if !ok {
		return out, true
	}
	if o.Disabled {
		return Rule{}, false
	}
	if o.Severity != "" {
		out.Severity = o.Severity
	}
	if o.For != nil {
		out.For = *o.For
	}
	if o.Value != nil {
		out.Value = *o.Value
	}
	if o.After != nil {
		out.After = *o.After
	}
	if len(o.Labels) > 0 {
		out.Labels = maps.Clone(r.Labels)
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		maps.Copy(out.Labels, o.Labels)
	}
	return out, true
}
