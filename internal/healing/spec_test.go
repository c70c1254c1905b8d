package healing

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/config/spec"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec" // the default warehouse's spec
)

// TestSpecNames: the names internal/config checks self_healing.yaml
// against are the strategies and categories ParsePolicy knows.
func TestSpecNames(t *testing.T) {
	var want []string
	for _, s := range StageStrategies() {
		want = append(want, s.Name())
	}
	for _, s := range Strategies() {
		want = append(want, s.Name())
	}
	slices.Sort(want)
	if got := spec.Names(spec.KindStrategy); !slices.Equal(got, want) {
		t.Errorf("registered strategies %v, want %v", got, want)
	}
	var cats []string
	for _, c := range Categories {
		cats = append(cats, string(c))
	}
	slices.Sort(cats)
	if got := spec.Names(spec.KindCategory); !slices.Equal(got, cats) {
		t.Errorf("registered categories %v, want %v", got, cats)
	}
}

// TestPolicyFileAgreesWithParsePolicy: what the configuration refuses,
// with a position, ParsePolicy refuses too, and what it accepts
// ParsePolicy reads.
func TestPolicyFileAgreesWithParsePolicy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n  p1:\n    source: s\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n"), 0o644)
	load := func(policy string) (*config.Project, error) {
		os.WriteFile(filepath.Join(dir, "self_healing.yaml"), []byte(policy), 0o644)
		return config.LoadDir(dir)
	}
	for _, policy := range []string{
		"retries: 3\n", "confidence_threshold: 1.5\n", "confidence_threshold: high\n", "dry_run: yes\n",
		"max_attempts: 0\n", "max_attempts: 2.5\n", "approval_timeout: 2d\n", "approval_timeout: 0\n",
		"auto_approve: parse_date_format\n", "auto_approve: [fill_defaults]\n", "strategies: {x: {threshold: 0.5}}\n",
		"categories: {dupes: {threshold: 0.5}}\n", "strategies: {parse_date_format: 0.5}\n", "dry_run:\n",
	} {
		_, err := load(policy)
		if err == nil || !strings.HasPrefix(err.Error(), "self_healing.yaml:1:") {
			t.Errorf("%q: config error %v, want one at self_healing.yaml:1:col", policy, err)
		}
	}
	for _, policy := range []string{
		"confidence_threshold: 0.8\nmax_attempts: 3\napproval_timeout: 30m\ndry_run: true\n",
		"auto_approve: [parse_date_format, normalize_to_value_set]\nstrategies: {parse_date_format: {threshold: 0.7}}\n",
		"categories: {duplicates: {threshold: 0.95}}\nhold_volume_anomalies: false\n",
	} {
		p, err := load(policy)
		if err != nil {
			t.Errorf("%q: %v", policy, err)
			continue
		}
		if _, err := ParsePolicy(p.SelfHealing); err != nil {
			t.Errorf("%q: ParsePolicy: %v", policy, err)
		}
	}
}
