// Package quality validates data with Great Expectations-compatible suites.
// Each expectation compiles to SQL for the engine's dialect; the aggregate
// metrics of every expectation on a table are computed in one scan, and
// only what needs rows (unexpected samples, windows, groups) runs as its own
// query. The package knows a Dialect and a Queryer, never a driver.
package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/shp-dev/shp/internal/jsonerr"
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
// Numbers keep their text (json.Number) so integers stay integers; the
// bare NaN, Infinity and -Infinity of Python's json module are read as
// NonFinite numbers (see RewriteNonFinite). A syntax error names its line
// and column in data.
func ParseSuite(data []byte, file string) (*Suite, error) {
	text, rw := RewriteNonFinite(data)
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var raw suiteJSON
	if err := dec.Decode(&raw); err != nil {
		if off, ok := jsonErrOffset(rw.Err(err)); ok {
			line, col := lineCol(data, off)
			return nil, fmt.Errorf("%s:%d:%d: not a GE expectation suite: %w", file, line, col, jsonerr.Reword(err))
		}
		return nil, fmt.Errorf("%s: not a GE expectation suite: %w", file, jsonerr.Reword(err))
	}
	s := &Suite{Name: raw.Name}
	s.Meta, _ = nonFiniteMap(raw.Meta)
	s.Params, _ = nonFiniteMap(raw.Params)
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
		kw, _ := nonFiniteMap(e.Kwargs)
		if kw == nil {
			kw = map[string]any{}
		}
		meta, _ := nonFiniteMap(e.Meta)
		c := Config{Type: typ, Kwargs: kw, Meta: meta, Severity: SeverityCritical, Action: ActionFail}
		if sev, ok := meta["severity"].(string); ok {
			c.Severity = strings.ToLower(sev)
		}
		if act, ok := meta["action"].(string); ok {
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

// jsonErrOffset is the offset of the byte a JSON syntax error is at.
func jsonErrOffset(err error) (int64, bool) {
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		return 0, false
	}
	// Offset counts the bytes read, the offending one included.
	return max(syn.Offset-1, 0), true
}

// lineCol is the 1-based line and column (in bytes) of offset off in data.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(off, int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	return line, int(off) - bytes.LastIndexByte(before, '\n')
}
