package quality

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
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
// suite paths are relative to dir.
func ParseRules(raw map[string]any, dir string) (Rules, error) {
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
		s, err := parsePipelineRules(name, pipes[name], dir)
		if err != nil {
			return nil, fmt.Errorf("quality_rules.yaml: pipeline %s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

func parsePipelineRules(name string, v any, dir string) (*Suite, error) {
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
		for _, e := range s.Expectations {
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
		for k := range rm {
			switch k {
			case "expectation", "type", "kwargs", "severity", "action", "name", "meta", "default":
			default:
				return nil, fmt.Errorf("rules[%d]: unknown key %q", i, k)
			}
		}
		typ, _ := rm["expectation"].(string)
		if typ == "" {
			typ, _ = rm["type"].(string)
		}
		if typ == "" {
			return nil, fmt.Errorf("rules[%d]: expectation is required", i)
		}
		if _, ok := lookupFactory(typ); !ok {
			return nil, fmt.Errorf("rules[%d]: unknown expectation %q", i, typ)
		}
		kw, _ := rm["kwargs"].(map[string]any)
		if kw == nil {
			kw = map[string]any{}
		}
		sev, act, err := severityAction(rm, SeverityCritical, ActionFail)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		meta, _ := rm["meta"].(map[string]any)
		if def, ok := rm["default"]; ok {
			if typ != "expect_column_values_to_not_be_null" {
				return nil, fmt.Errorf("rules[%d]: default applies to expect_column_values_to_not_be_null only, not %s", i, typ)
			}
			switch def.(type) {
			case string, bool, int, int64, uint64, float64:
			default:
				return nil, fmt.Errorf("rules[%d]: default must be a single value (text, number or boolean), got %v", i, def)
			}
			m := map[string]any{MetaDefault: def}
			for k, v := range meta {
				m[k] = v
			}
			meta = m
		}
		rname, _ := rm["name"].(string)
		suite.Expectations = append(suite.Expectations, Config{Type: typ, Kwargs: kw, Meta: meta, Severity: sev, Action: act, Name: rname})
	}
	return suite, nil
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
