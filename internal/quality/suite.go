// Package quality validates data with Great Expectations-compatible suites.
// Each expectation compiles to SQL for the engine's dialect; the aggregate
// metrics of every expectation on a table are computed in one scan, and
// only what needs rows (unexpected samples, windows, groups) runs as its own
// query. The package knows a Dialect and a Queryer, never a driver.
package quality

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Severities of a rule.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Actions a failing rule asks for.
const (
	ActionFail       = "fail"
	ActionQuarantine = "quarantine"
	ActionWarn       = "warn"
)

// Suite is an expectation suite.
type Suite struct {
	Name         string
	Expectations []Config
	Meta         map[string]any
	// Params are the suite's named evaluation parameters, which
	// {"$PARAMETER": "expr"} kwargs may refer to.
	Params map[string]any
}

// Config is one expectation as configured: its GE type and kwargs, plus
// shp's severity and action.
type Config struct {
	Type     string         `json:"type"`
	Kwargs   map[string]any `json:"kwargs"`
	Meta     map[string]any `json:"meta"`
	Severity string         `json:"-"`
	Action   string         `json:"-"`
	// Name names the rule in quarantine reasons and results; it defaults
	// to the type and column, e.g. expect_column_values_to_not_be_null(order_id).
	Name string `json:"-"`
}

// RuleName is the rule's name, or its type and column.
func (c Config) RuleName() string {
	if c.Name != "" {
		return c.Name
	}
	if col, ok := c.Kwargs["column"].(string); ok {
		return c.Type + "(" + col + ")"
	}
	return c.Type
}

// suiteJSON accepts both GE layouts: 0.x (expectation_suite_name,
// expectation_type) and 1.x (name, type).
type suiteJSON struct {
	Name         string         `json:"name"`
	LegacyName   string         `json:"expectation_suite_name"`
	Meta         map[string]any `json:"meta"`
	Params       map[string]any `json:"evaluation_parameters"`
	Expectations []struct {
		Type       string         `json:"type"`
		LegacyType string         `json:"expectation_type"`
		Kwargs     map[string]any `json:"kwargs"`
		Meta       map[string]any `json:"meta"`
	} `json:"expectations"`
}

// ParseSuite reads a GE expectation suite in JSON, 0.x or 1.x layout.
// Numbers keep their text (json.Number) so integers stay integers.
func ParseSuite(data []byte, file string) (*Suite, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw suiteJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not a GE expectation suite: %w", file, err)
	}
	s := &Suite{Name: raw.Name, Meta: raw.Meta, Params: raw.Params}
	if s.Name == "" {
		s.Name = raw.LegacyName
	}
	for i, e := range raw.Expectations {
		typ := e.Type
		if typ == "" {
			typ = e.LegacyType
		}
		if typ == "" {
			return nil, fmt.Errorf("%s: expectation %d has no type (or expectation_type)", file, i+1)
		}
		kw := e.Kwargs
		if kw == nil {
			kw = map[string]any{}
		}
		c := Config{Type: typ, Kwargs: kw, Meta: e.Meta, Severity: SeverityCritical, Action: ActionFail}
		if sev, ok := e.Meta["severity"].(string); ok {
			c.Severity = strings.ToLower(sev)
		}
		if act, ok := e.Meta["action"].(string); ok {
			c.Action = strings.ToLower(act)
		}
		s.Expectations = append(s.Expectations, c)
	}
	return s, nil
}

// LoadSuite reads a suite file.
func LoadSuite(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read suite: %w", err)
	}
	return ParseSuite(data, path)
}
