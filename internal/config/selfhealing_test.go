package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config/spec"
)

// loadPolicy loads a project whose self_healing.yaml is policy.
func loadPolicy(t *testing.T, policy string) (*Project, error) {
	t.Helper()
	return LoadDir(writeProject(t, map[string]string{"config.yaml": okConfig, "sources.yaml": okSource, "self_healing.yaml": policy}), noEnv)
}

// readmePolicy is the README's self_healing.yaml.
const readmePolicy = `confidence_threshold: 0.9          # an action below it waits for approval
dry_run: false                     # true: propose only, change nothing
max_attempts: 5                    # stage repairs tried on one object
auto_approve: [normalize_to_value_set, quarantine_duplicates, add_nullable_column, parse_date_format]
strategies: {normalize_to_value_set: {threshold: 0.8}}          # per-strategy threshold
categories: {duplicates: {threshold: 0.95}}                      # per-category threshold
hold_volume_anomalies: true        # default: a volume anomaly holds the commit for approval
hold_null_spikes: true             # default: so does a column whose null rate spiked
hold_quality_drops: true           # default: so does a fall of the batch's quality score
hold_removed_columns: true         # default: so does a column missing from an object that had values in recent runs
approval_timeout: 30m              # a run waits this long for a decision on each proposal (default 0: no wait)
`

// TestSelfHealingNamesUnchecked: without a healing engine registering
// its strategies and categories, their names are left to the engine.
func TestSelfHealingNamesUnchecked(t *testing.T) {
	if len(spec.Names(spec.KindStrategy)) > 0 {
		t.Skip("strategies are registered")
	}
	if _, err := loadPolicy(t, "auto_approve: [anything]\ncategories: {whatever: {threshold: 0.5}}\n"); err != nil {
		t.Error(err)
	}
}

// TestSelfHealing checks self_healing.yaml with the same loader as the
// other files: every problem names self_healing.yaml, its line and its
// column.
func TestSelfHealing(t *testing.T) {
	for _, name := range []string{"normalize_to_value_set", "quarantine_duplicates", "add_nullable_column", "parse_date_format"} {
		spec.Register(spec.Spec{Kind: spec.KindStrategy, Name: name})
	}
	for _, name := range []string{"duplicates", "transient"} {
		spec.Register(spec.Spec{Kind: spec.KindCategory, Name: name})
	}
	t.Cleanup(func() {
		for _, s := range spec.List(spec.KindStrategy) {
			spec.Unregister(spec.KindStrategy, s.Name)
		}
		for _, s := range spec.List(spec.KindCategory) {
			spec.Unregister(spec.KindCategory, s.Name)
		}
	})

	p, err := loadPolicy(t, readmePolicy)
	if err != nil {
		t.Fatalf("the README's policy: %v", err)
	}
	if p.SelfHealing["approval_timeout"] != "30m" || p.SelfHealing["confidence_threshold"] != 0.9 ||
		!reflect.DeepEqual(p.SelfHealing["auto_approve"], []any{"normalize_to_value_set", "quarantine_duplicates", "add_nullable_column", "parse_date_format"}) {
		t.Errorf("SelfHealing = %#v", p.SelfHealing)
	}

	keys := "approval_timeout, auto_approve, categories, confidence_threshold, dry_run, hold_null_spikes, hold_quality_drops, " +
		"hold_removed_columns, hold_volume_anomalies, max_attempts, strategies"
	strategies := "add_nullable_column, normalize_to_value_set, parse_date_format, quarantine_duplicates"
	tests := []struct {
		name, policy, want string
	}{
		// unknown keys
		{"unknown key", "confidence_threshold: 0.9\nretries: 3\n", `self_healing.yaml:2:1: unknown top-level key "retries" (allowed: ` + keys + ")"},
		{"unknown key of a strategy", "strategies:\n  quarantine_duplicates: {thresold: 0.8}\n",
			`self_healing.yaml:2:27: unknown key "thresold" in strategies.quarantine_duplicates (allowed: threshold)`},
		// wrong types
		{"threshold not a number", "confidence_threshold: high\n", `self_healing.yaml:1:23: confidence_threshold must be a number, got "high"`},
		{"flag not a boolean", "dry_run: yes\n", `self_healing.yaml:1:10: dry_run must be true or false, got "yes"`},
		{"hold not a boolean", "hold_null_spikes: 1\n", `self_healing.yaml:1:19: hold_null_spikes must be true or false, got 1`},
		{"auto_approve a string", "auto_approve: parse_date_format\n", `self_healing.yaml:1:15: auto_approve must be a list of strategies, got "parse_date_format"`},
		{"auto_approve of a mapping", "auto_approve: [{a: b}]\n", `self_healing.yaml:1:16: auto_approve[0] must be a strategy name, got a mapping`},
		{"strategies a list", "strategies: [a]\n", `self_healing.yaml:1:13: strategies must be a mapping, got a list`},
		{"strategy not a mapping", "strategies: {parse_date_format: 0.8}\n", `self_healing.yaml:1:33: strategies.parse_date_format must be a mapping, got 0.8`},
		{"strategy null", "strategies:\n  parse_date_format:\n", `self_healing.yaml:2:3: strategies.parse_date_format must be a mapping, got null`},
		{"null value", "dry_run:\n", `self_healing.yaml:1:1: dry_run must not be empty`},
		{"timeout a number", "approval_timeout: 0\n", `self_healing.yaml:1:19: approval_timeout must be a duration from 0s to 24h, such as 30m, got 0`},
		// bad names
		{"bad strategy name", "auto_approve: [quarantine_duplicates, fill_defaults]\n",
			`self_healing.yaml:1:39: auto_approve[1]: strategy "fill_defaults" is unknown (known: ` + strategies + ")"},
		{"bad strategy key", "strategies:\n  normalise_to_value_set: {threshold: 0.8}\n",
			`self_healing.yaml:2:3: strategies: strategy "normalise_to_value_set" is unknown (known: ` + strategies + ")"},
		{"bad category", "categories: {dupes: {threshold: 0.9}}\n", `self_healing.yaml:1:14: categories: category "dupes" is unknown (known: duplicates, transient)`},
		// bad thresholds and bounds
		{"threshold above 1", "confidence_threshold: 1.5\n", `self_healing.yaml:1:23: confidence_threshold must be between 0 and 1, got 1.5`},
		{"strategy threshold below 0", "strategies: {parse_date_format: {threshold: -0.1}}\n",
			`self_healing.yaml:1:45: strategies.parse_date_format.threshold must be between 0 and 1, got -0.1`},
		{"category threshold not a number", "categories: {duplicates: {threshold: high}}\n",
			`self_healing.yaml:1:38: categories.duplicates.threshold must be a number, got "high"`},
		{"max_attempts 0", "max_attempts: 0\n", `self_healing.yaml:1:15: max_attempts must be a whole number from 1 to 20, got 0`},
		{"max_attempts fraction", "max_attempts: 2.5\n", `self_healing.yaml:1:15: max_attempts must be a whole number from 1 to 20, got 2.5`},
		{"approval_timeout too long", "approval_timeout: 48h\n", `self_healing.yaml:1:19: approval_timeout must be a duration from 0s to 24h, such as 30m, got "48h"`},
		{"approval_timeout not a duration", "approval_timeout: 2d\n", `self_healing.yaml:1:19: approval_timeout must be a duration from 0s to 24h, such as 30m, got "2d"`},
		// several at once, in the file's order
		{"several", "max_attempts: 30\nauto_approve: [nope]\nconfidence_threshold: 2\n", strings.Join([]string{
			`self_healing.yaml:1:15: max_attempts must be a whole number from 1 to 20, got 30`,
			`self_healing.yaml:2:16: auto_approve[0]: strategy "nope" is unknown (known: ` + strategies + ")",
			`self_healing.yaml:3:23: confidence_threshold must be between 0 and 1, got 2`,
		}, "\n")},
		// the file as a whole
		{"not a mapping", "- dry_run\n", `self_healing.yaml:1:1: self_healing.yaml must contain a mapping, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := loadPolicy(t, tt.policy)
			if err == nil {
				t.Fatalf("loaded %#v, want error:\n%s", p.SelfHealing, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}

	// Accepted: whole floats for max_attempts (as the engine reads them),
	// a 0s timeout, empty lists and mappings, an empty file.
	for _, ok := range []string{"max_attempts: 3.0\n", "approval_timeout: 0s\n", "auto_approve: []\n", "strategies: {}\n", "# nothing\n"} {
		if _, err := loadPolicy(t, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
