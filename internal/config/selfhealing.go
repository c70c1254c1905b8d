package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/shp-dev/shp/internal/config/spec"
)

// selfHealingKeys are the keys of self_healing.yaml. internal/healing
// turns the file into its Policy (healing.ParsePolicy); the checks here
// are the same, with the file, line and column of each problem.
var selfHealingKeys = []string{
	"confidence_threshold", "dry_run", "max_attempts", "hold_volume_anomalies", "hold_null_spikes",
	"hold_quality_drops", "hold_removed_columns", "approval_timeout", "auto_approve", "strategies", "categories",
}

// Bounds of self_healing.yaml's settings.
const (
	maxHealingAttempts = 20
	maxApprovalTimeout = 24 * time.Hour
)

// selfHealing parses and checks self_healing.yaml, and returns its
// content, or nil when it is absent, empty or invalid.
//
// Strategy and category names are checked against those registered
// (spec.KindStrategy and spec.KindCategory, which internal/healing
// registers); a program that links no healing engine registers none, and
// then the names are left to the engine.
func (l *loader) selfHealing() map[string]any {
	f := l.parse(selfHealingFile, false)
	if f == nil || f.body == nil || isNull(f.resolve(f.body)) {
		return nil
	}
	before := len(l.errs)
	o := f.specObject(f.body, pos{1, 1}, "", "", "", selfHealingKeys)
	if o.bad {
		return nil
	}
	for _, k := range o.order {
		// The engine reads a null as a value of the wrong type.
		if e := o.entries[k]; isNull(e.value) {
			o.errorf(e.pos, "%s must not be empty", k)
		}
	}
	var ratio float64
	o.ratio("confidence_threshold", &ratio)
	var b bool
	for _, k := range []string{"dry_run", "hold_volume_anomalies", "hold_null_spikes", "hold_quality_drops", "hold_removed_columns"} {
		o.boolean(k, &b)
	}
	var n float64
	if o.number("max_attempts", &n) && (n < 1 || n > maxHealingAttempts || n != float64(int(n))) {
		o.errorf(o.valuePos("max_attempts"), "max_attempts must be a whole number from 1 to %d, got %s", maxHealingAttempts, describe(o.entries["max_attempts"].value))
	}
	if e, ok := o.get("approval_timeout"); ok {
		// A string: the engine does not read a number (0) as a duration.
		var text string
		switch v := e.value.(type) {
		case *ast.StringNode:
			text = v.Value
		case *ast.LiteralNode:
			text = v.Value.Value
		}
		if d, err := time.ParseDuration(text); err != nil || d < 0 || d > maxApprovalTimeout {
			o.errorf(o.valuePos("approval_timeout"), "approval_timeout must be a duration from 0s to 24h, such as 30m, got %s", describe(e.value))
		}
	}
	if e, ok := o.get("auto_approve"); ok {
		seq, isList := e.value.(*ast.SequenceNode)
		if !isList {
			o.typeError(e, "a list of strategies")
		} else {
			for i, item := range seq.Values {
				name, isString := scalarString(f.resolve(item))
				if !isString {
					o.errorf(f.pos(item), "auto_approve[%d] must be a strategy name, got %s", i, describe(f.resolve(item)))
					continue
				}
				checkHealingName(o, f.pos(item), spec.KindStrategy, fmt.Sprintf("auto_approve[%d]: strategy", i), name)
			}
		}
	}
	for _, k := range []string{"strategies", "categories"} {
		if !o.has(k) {
			continue
		}
		kind, what := spec.KindStrategy, "strategy"
		if k == "categories" {
			kind, what = spec.KindCategory, "category"
		}
		m := f.object(o.node(k), o.keyPos(k), "", k+".", k)
		for _, name := range m.order {
			checkHealingName(m, m.keyPos(name), kind, k+": "+what, name)
			if isNull(m.entries[name].value) {
				m.errorf(m.keyPos(name), "%s.%s must be a mapping, got null", k, name)
				continue
			}
			t := f.specObject(m.node(name), m.keyPos(name), "", k+"."+name+".", k+"."+name, []string{"threshold"})
			t.ratio("threshold", &ratio)
		}
	}
	if len(l.errs) > before {
		return nil
	}
	var out map[string]any
	if err := yaml.NodeToValue(f.body, &out); err != nil {
		f.yamlError(err)
		return nil
	}
	return out
}

// checkHealingName reports a strategy or category name that is not
// registered, when some of its kind are.
func checkHealingName(o *object, at pos, kind, what, name string) {
	names := spec.Names(kind)
	if len(names) == 0 {
		return
	}
	if _, ok := spec.Lookup(kind, name); !ok {
		o.errorf(at, "%s %q is unknown (known: %s)", what, name, strings.Join(names, ", "))
	}
}
