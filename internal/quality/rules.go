package quality

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Rules attaches suites and inline rules to pipelines. It is read from
// quality_rules.yaml:
//
//	pipelines:
//	  sales:
//	    suites:
//	      - path: suites/sales.json     # a GE suite, 0.x or 1.x JSON
//	        severity: warning           # default for its expectations
//	        action: warn
//	    rules:
//	      - expectation: expect_column_values_to_not_be_null
//	        kwargs: {column: order_id}
//	        severity: critical          # critical | warning | info
//	        action: quarantine          # fail | quarantine | warn
//	        name: order_id_present      # optional
type Rules map[string]*Suite

// ParseRules reads the content of quality_rules.yaml (as parsed YAML);
// suite paths are relative to dir. Each rule, and each expectation of the
// suites it names, is checked as CheckRule checks a rule before storing
// it, without the tables' columns.
func ParseRules(raw map[string]any, dir string) (Rules, error) {
	return ParseRulesFor(raw, dir, nil)
}

// ParseRulesFor is ParseRules with the columns each pipeline's table is
// declared to have (nil when it declares none), whose types min_value
// and max_value are checked against; a column a rule names need not be
// declared. columns may be nil.
func ParseRulesFor(raw map[string]any, dir string, columns func(pipeline string) ([]Column, error)) (Rules, error) {
	out := Rules{}
	if raw == nil {
		return out, nil
	}
	for k := range raw {
		if k != "pipelines" {
			return nil, fmt.Errorf("quality_rules.yaml: unknown key %q (want pipelines)", k)
		}
	}
	pipes, ok := raw["pipelines"].(map[string]any)
	if raw["pipelines"] != nil && !ok {
		return nil, fmt.Errorf("quality_rules.yaml: pipelines must be a mapping")
	}
	names := make([]string, 0, len(pipes))
	for n := range pipes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := Table{Name: "batch", anyColumn: true}
		if columns != nil {
			cols, err := columns(name)
			if err != nil {
				return nil, fmt.Errorf("quality_rules.yaml: pipeline %s: %w", name, err)
			}
			t.Columns = cols
		}
		s, err := parsePipelineRules(name, pipes[name], dir, t)
		if err != nil {
			return nil, fmt.Errorf("quality_rules.yaml: pipeline %s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

func parsePipelineRules(name string, v any, dir string, t Table) (*Suite, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a mapping with suites and rules")
	}
	suite := &Suite{Name: name}
	for k := range m {
		if k != "suites" && k != "rules" {
			return nil, fmt.Errorf("unknown key %q (want suites, rules)", k)
		}
	}
	suites, _ := m["suites"].([]any)
	for i, sv := range suites {
		sm, ok := sv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("suites[%d] must be a mapping with path", i)
		}
		path, _ := sm["path"].(string)
		if path == "" {
			return nil, fmt.Errorf("suites[%d]: path is required", i)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		s, err := LoadSuite(path)
		if err != nil {
			return nil, err
		}
		sev, act, err := severityAction(sm, SeverityCritical, ActionFail)
		if err != nil {
			return nil, fmt.Errorf("suites[%d]: %w", i, err)
		}
		// The suite's evaluation parameters go with its expectations.
		for k, v := range s.Params {
			if prev, ok := suite.Params[k]; ok && !reflect.DeepEqual(prev, v) {
				return nil, fmt.Errorf("suites[%d] (%s): evaluation parameter %q differs from an earlier suite's", i, path, k)
			}
			if suite.Params == nil {
				suite.Params = map[string]any{}
			}
			suite.Params[k] = v
		}
		for j, e := range s.Expectations {
			if err := checkRule(e, t, s.Params); err != nil {
				return nil, fmt.Errorf("suites[%d] (%s): expectation %d (%s): %w", i, path, j+1, e.RuleName(), err)
			}
			if _, set := e.Meta["severity"]; !set {
				e.Severity = sev
			}
			if _, set := e.Meta["action"]; !set {
				e.Action = act
			}
			suite.Expectations = append(suite.Expectations, e)
		}
	}
	rules, _ := m["rules"].([]any)
	for i, rv := range rules {
		rm, ok := rv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("rules[%d] must be a mapping", i)
		}
		cfg, err := ParseRule(rm)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		if err := checkRule(cfg, t, suite.Params); err != nil {
			return nil, fmt.Errorf("rules[%d] (%s): %w", i, cfg.RuleName(), err)
		}
		suite.Expectations = append(suite.Expectations, cfg)
	}
	return suite, nil
}

// ParseRule reads one rule mapping of quality_rules.yaml (expectation,
// kwargs, severity, action, name, meta, default) into a Config. It checks
// the keys and the expectation's name, not its kwargs (see CheckRule).
// Non-finite numbers in kwargs and meta become NonFinite values.
func ParseRule(rm map[string]any) (Config, error) {
	for k := range rm {
		switch k {
		case "expectation", "type", "kwargs", "severity", "action", "name", "meta", "default":
		default:
			return Config{}, fmt.Errorf("unknown key %q", k)
		}
	}
	typ, _ := rm["expectation"].(string)
	if typ == "" {
		typ, _ = rm["type"].(string)
	}
	if typ == "" {
		return Config{}, fmt.Errorf("expectation is required")
	}
	if _, ok := lookupFactory(typ); !ok {
		return Config{}, fmt.Errorf("unknown expectation %q", typ)
	}
	kw, _ := rm["kwargs"].(map[string]any)
	if v, ok := rm["kwargs"]; ok && kw == nil && v != nil {
		return Config{}, fmt.Errorf("kwargs must be a mapping")
	}
	// NaN and the infinities, as YAML's .nan and .inf or JSON's
	// {"$numberDouble": "NaN"}, become NonFinite numbers.
	kw, _ = nonFiniteMap(kw)
	if kw == nil {
		kw = map[string]any{}
	}
	sev, act, err := severityAction(rm, SeverityCritical, ActionFail)
	if err != nil {
		return Config{}, err
	}
	meta, _ := rm["meta"].(map[string]any)
	meta, _ = nonFiniteMap(meta)
	if def, ok := rm["default"]; ok {
		if typ != "expect_column_values_to_not_be_null" {
			return Config{}, fmt.Errorf("default applies to expect_column_values_to_not_be_null only, not %s", typ)
		}
		switch def.(type) {
		case string, bool, int, int64, uint64, float64:
		default:
			return Config{}, fmt.Errorf("default must be a single value (text, number or boolean), got %v", def)
		}
		m := map[string]any{}
		for k, v := range meta {
			m[k] = v
		}
		m[MetaDefault] = def // the top-level key wins over meta's
		meta = m
	}
	if def, ok := meta[MetaDefault]; ok {
		// Also when it came in meta (a GE suite's layout).
		switch def.(type) {
		case string, bool, int, int64, uint64, float64:
		default:
			return Config{}, fmt.Errorf("meta.default must be a single value (text, number or boolean), got %v", def)
		}
	}
	rname, _ := rm["name"].(string)
	return Config{Type: typ, Kwargs: kw, Meta: meta, Severity: sev, Action: act, Name: rname}, nil
}

// ParseStoredRule reads a rule stored as the JSON of one
// quality_rules.yaml rule mapping.
func ParseStoredRule(body string) (Config, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Config{}, err
	}
	return ParseRule(m)
}

// CheckRule checks a rule before it is stored, without running it, so
// that what would fail every run is refused now:
//   - every kwarg is one its expectation takes (see RegisterKwargs);
//   - its list kwargs hold at most MaxListEntries entries, and its kwargs
//     take at most MaxRuleBytes as JSON;
//   - its evaluation parameters ({"$PARAMETER": ...}) evaluate;
//   - its regular expressions compile in DuckDB's dialect (RE2: no
//     backreferences, no lookarounds);
//   - min_value and max_value, evaluated, are numbers where a number is
//     compared, and fit the column's type where that is known;
//   - it compiles: its kwargs, its row_condition and the columns it
//     names, against cols (any column name passes when cols is nil, the
//     table's columns being unknown yet).
//
// An error about one kwarg is a *KwargError.
func CheckRule(cfg Config, cols []Column) error {
	return checkRule(cfg, Table{Name: "batch", Columns: cols, anyColumn: cols == nil}, nil)
}

// checkRule checks a rule on table t (see CheckRule), with the named
// evaluation parameters of its suite.
func checkRule(cfg Config, t Table, params map[string]any) error {
	f, ok := lookupFactory(cfg.Type)
	if !ok {
		return fmt.Errorf("unknown expectation %q", cfg.Type)
	}
	if err := checkKwargNames(cfg.Type, cfg.Kwargs); err != nil {
		return err
	}
	if err := checkSize(cfg.Kwargs); err != nil {
		return err
	}
	kw, err := resolveParams(Kwargs(cfg.Kwargs), time.Now(), params)
	if err != nil {
		return err
	}
	if err := checkRegexes(DuckDB, cfg.Type, kw); err != nil {
		return err
	}
	if err := checkBounds(t, cfg.Type, kw); err != nil {
		return err
	}
	if t.Index == "" {
		t.Index = "shp_row" // row order exists once the table does
	}
	env := &Env{D: DuckDB, T: t, Format: Basic}
	if err := env.parseCondition(kw); err != nil {
		return err
	}
	_, err = f(env, kw)
	return err
}

// MetaDefault is the meta key of the value a not-null rule declares for
// its NULLs (`default:` in quality_rules.yaml); the self-healing engine's
// fill_declared_default strategy may fill them with it.
const MetaDefault = "default"

func severityAction(m map[string]any, sev, act string) (string, string, error) {
	if s, ok := m["severity"].(string); ok {
		sev = strings.ToLower(s)
	}
	if a, ok := m["action"].(string); ok {
		act = strings.ToLower(a)
	}
	switch sev {
	case SeverityCritical, SeverityWarning, SeverityInfo:
	default:
		return "", "", fmt.Errorf("severity %q is not critical, warning or info", sev)
	}
	switch act {
	case ActionFail, ActionQuarantine, ActionWarn:
	default:
		return "", "", fmt.Errorf("action %q is not fail, quarantine or warn", act)
	}
	return sev, act, nil
}

// severityWeight weights the quality score.
var severityWeight = map[string]float64{SeverityCritical: 3, SeverityWarning: 2, SeverityInfo: 1}

// Score is the quality score of a validation, 0 to 100: the share of
// expectations that succeeded, weighted by severity (critical 3, warning
// 2, info 1).
func Score(suite *Suite, r *Result) float64 {
	var total, ok float64
	for i, er := range r.Results {
		w := severityWeight[SeverityCritical]
		if i < len(suite.Expectations) {
			if sw, found := severityWeight[suite.Expectations[i].Severity]; found {
				w = sw
			}
		}
		total += w
		if er.Success {
			ok += w
		}
	}
	if total == 0 {
		return 100
	}
	return 100 * ok / total
}
