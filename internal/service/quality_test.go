package service

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
)

// TestRules: a pipeline's rules are quality_rules.yaml's, then the stored
// ones, with who added them.
func TestRules(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.svc.Rules(f.ctx, "nope")
	wantErr(t, err, "not found")
	added, err := f.svc.AddRules(f.ctx, "orders", []NewRule{{Expectation: "expect_column_values_to_be_between",
		Kwargs: map[string]any{"column": "amount", "min_value": 0}, Severity: "warning", Action: "warn", Name: "amount_positive",
		Meta: map[string]any{"owner": "finance"}}}, "ana")
	wantErr(t, err, "")
	if len(added) != 1 || added[0].ID == 0 || added[0].Origin != "stored" || added[0].CreatedBy != "ana" || added[0].Name != "amount_positive" {
		t.Fatalf("added %+v", added)
	}
	rules, err := f.svc.Rules(f.ctx, "orders")
	wantErr(t, err, "")
	if len(rules) != 2 || rules[0].Origin != "config" || rules[0].ID != 0 || rules[0].Name != "expect_column_values_to_not_be_null(id)" ||
		rules[1].Origin != "stored" || rules[1].ID != added[0].ID || rules[1].CreatedAt == nil || rules[1].Meta["owner"] != "finance" ||
		rules[1].Severity != "warning" || rules[1].Action != "warn" {
		t.Fatalf("rules %+v", rules)
	}
	none, err := f.svc.Rules(f.ctx, "items")
	wantErr(t, err, "")
	if none == nil || len(none) != 0 {
		t.Fatalf("a pipeline without rules: %#v", none)
	}
}

// TestAddRules: rules are checked (their keys and kwargs, the columns
// they name against the declared schema) and stored all or none; rules
// that run SQL stay in quality_rules.yaml.
func TestAddRules(t *testing.T) {
	notNull := func(col string) NewRule {
		return NewRule{Expectation: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": col}}
	}
	for _, tc := range []struct {
		name     string
		pipeline string
		rules    []NewRule
		want     string
	}{
		{"a rule", "orders", []NewRule{notNull("region")}, ""},
		{"two rules", "orders", []NewRule{notNull("region"), notNull("amount")}, ""},
		{"a rule with a default", "orders", []NewRule{{Expectation: "expect_column_values_to_not_be_null",
			Kwargs: map[string]any{"column": "region"}, Default: "unknown"}}, ""},
		{"a rule of a pipeline without a schema", "items", []NewRule{notNull("anything")}, ""},
		{"no rules", "orders", nil, "field:rules"},
		{"an unknown pipeline", "nope", []NewRule{notNull("id")}, "not found"},
		{"an unknown expectation", "orders", []NewRule{{Expectation: "expect_magic", Kwargs: map[string]any{}}}, "field:rule"},
		{"a column the schema lacks", "orders", []NewRule{notNull("colour")}, "field:rule.kwargs"},
		{"a bound that is not a number", "orders", []NewRule{{Expectation: "expect_column_values_to_be_between",
			Kwargs: map[string]any{"column": "id", "min_value": "a lot"}}}, "field:rule.kwargs.min_value"},
		{"the second of two rules", "orders", []NewRule{notNull("region"), notNull("colour")}, "field:rules[1].kwargs"},
		{"a rule that runs SQL", "orders", []NewRule{{Expectation: "expect_rows_to_satisfy_sql",
			Kwargs: map[string]any{"sql": "SELECT 1"}}}, "field:rule.expectation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			views, err := f.svc.AddRules(f.ctx, tc.pipeline, tc.rules, "ana")
			wantErr(t, err, tc.want)
			stored, _ := f.store.ListQualityRules(f.ctx, "")
			if tc.want != "" {
				if len(stored) != 0 {
					t.Fatalf("a refused rule was stored: %+v", stored)
				}
				return
			}
			if len(views) != len(tc.rules) || len(stored) != len(tc.rules) {
				t.Fatalf("added %+v, stored %+v", views, stored)
			}
			for i, v := range views {
				if v.ID != stored[i].ID || v.Expectation != tc.rules[i].Expectation {
					t.Fatalf("added %+v, stored %+v", views, stored)
				}
			}
		})
	}
}

// versionless is a store that cannot tell the version of its stored
// rules without reading them.
type versionless struct{ Store }

// TestStoredRulesParsedOncePerChange: a pipeline's stored rules are
// parsed when first read and again only after they change, whether or
// not the store tells their version; a stored rule that no longer
// parses is an error that names it.
func TestStoredRulesParsedOncePerChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(metadata.Store) Store
	}{
		{"a store that tells the version", func(s metadata.Store) Store { return s }},
		{"a store that does not", func(s metadata.Store) Store { return versionless{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.svc.Store = tc.store(f.store)
			rule := []NewRule{{Expectation: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "region"}}}
			_, err := f.svc.AddRules(f.ctx, "orders", rule, "ana")
			f.must(err)
			for range 3 {
				if _, err := f.svc.Rules(f.ctx, "orders"); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.svc.StoredRuleParses(); n != 1 {
				t.Fatalf("parsed %d stored rules in three reads, want 1", n)
			}
			_, err = f.svc.AddRules(f.ctx, "orders", rule, "ana")
			f.must(err)
			if _, err := f.svc.Rules(f.ctx, "orders"); err != nil || f.svc.StoredRuleParses() != 3 {
				t.Fatalf("after a change: %d parses, %v", f.svc.StoredRuleParses(), err)
			}
			_, err = f.store.AddQualityRules(f.ctx, []metadata.StoredRule{{Pipeline: "orders", Rule: "not json", CreatedBy: "db"}})
			f.must(err)
			if _, err := f.svc.Rules(f.ctx, "orders"); err == nil || !strings.Contains(err.Error(), "stored rule #3") {
				t.Fatalf("a stored rule that does not parse: %v", err)
			}
		})
	}
}

// TestConfigRules: quality_rules.yaml is checked as a stored rule is,
// against the declared schemas.
func TestConfigRules(t *testing.T) {
	f := newFixture(t, nil)
	wantErr(t, f.svc.CheckConfigRules(), "")
	bad := newFixture(t, map[string]string{"quality_rules.yaml": `pipelines:
  orders:
    rules:
      - expectation: expect_column_values_to_be_between
        kwargs: {column: id, min_value: "a lot"}
`})
	if err := bad.svc.CheckConfigRules(); err == nil || !strings.Contains(err.Error(), "quality_rules.yaml") {
		t.Fatalf("a bound that is not a number for an INTEGER column: %v", err)
	}
	if _, err := bad.svc.Pipelines(bad.ctx); err == nil {
		t.Fatal("pipelines listed with rules that do not check")
	}
	badSchema := newFixture(t, map[string]string{"schema.json": "not json"})
	if err := badSchema.svc.CheckConfigRules(); err == nil {
		t.Fatal("rules checked against a schema that does not read")
	}
	if _, err := badSchema.svc.AddRules(badSchema.ctx, "orders", []NewRule{{Expectation: "expect_column_values_to_not_be_null",
		Kwargs: map[string]any{"column": "id"}}}, "ana"); err == nil {
		t.Fatal("a rule added against a schema that does not read")
	}
}

// TestRulesFromSuite: a Great Expectations suite becomes rules to add.
func TestRulesFromSuite(t *testing.T) {
	rules := RulesFromSuite(&quality.Suite{Expectations: []quality.Config{
		{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "id"}, Severity: "critical", Action: "fail"},
		{Type: "expect_table_row_count_to_be_between", Kwargs: map[string]any{"min_value": 1}, Meta: map[string]any{"notes": "x"}},
	}})
	if len(rules) != 2 || rules[0].Expectation != "expect_column_values_to_not_be_null" || rules[0].Severity != "critical" ||
		rules[0].Action != "fail" || rules[1].Meta["notes"] != "x" {
		t.Fatalf("rules %+v", rules)
	}
}

// validationsFixture records runs of orders and events, with two, none,
// three and one validated objects.
func validationsFixture(t *testing.T) *fixture {
	f := newFixture(t, nil)
	f.run("run-a", "orders", metadata.StatusSucceeded, day(20), map[string]float64{"quality_score": 80}, true, false)
	f.run("run-b", "events", metadata.StatusSucceeded, day(21), nil)
	f.run("run-c", "orders", metadata.StatusFailed, day(22), map[string]float64{"quality_score": 60}, false, false, true)
	f.run("run-d", "events", metadata.StatusSucceeded, day(23), map[string]float64{"quality_score": 100}, true)
	// A task without a validation, and one whose detail is not JSON, are
	// not validations.
	f.must(f.store.RecordTask(f.ctx, metadata.TaskAttempt{RunID: "run-d", Task: "commit events", Attempt: 1, Detail: `{"rows": 1}`}))
	f.must(f.store.RecordTask(f.ctx, metadata.TaskAttempt{RunID: "run-d", Task: "load broken.csv", Attempt: 1, Detail: "{"}))
	return f
}

// TestValidations: validation results newest run first, by run or
// pipeline and start time, a page at a time; a page may end in the
// middle of a run's results.
func TestValidations(t *testing.T) {
	f := validationsFixture(t)
	list := func(page Page[Validation]) string {
		var out []string
		for _, v := range page.Items {
			out = append(out, v.RunID+"/"+strings.TrimSuffix(strings.TrimPrefix(v.Object, "part-"), ".csv"))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name  string
		q     ValidationQuery
		want  string
		more  bool
		error string
	}{
		{"all", ValidationQuery{}, "run-d/0,run-c/0,run-c/1,run-c/2,run-a/0,run-a/1", false, ""},
		{"of a pipeline", ValidationQuery{Pipeline: "orders"}, "run-c/0,run-c/1,run-c/2,run-a/0,run-a/1", false, ""},
		{"of a run", ValidationQuery{RunID: "run-c"}, "run-c/0,run-c/1,run-c/2", false, ""},
		{"since", ValidationQuery{Since: day(22)}, "run-d/0,run-c/0,run-c/1,run-c/2", false, ""},
		{"until", ValidationQuery{Until: day(21)}, "run-a/0,run-a/1", false, ""},
		{"a page that ends inside a run", ValidationQuery{PageRequest: PageRequest{PageSize: 2}}, "run-d/0,run-c/0", true, ""},
		{"a page that ends inside a run given by id", ValidationQuery{RunID: "run-c", PageRequest: PageRequest{PageSize: 2}}, "run-c/0,run-c/1", true, ""},
		{"an unknown run", ValidationQuery{RunID: "run-zz"}, "", false, "not found"},
		{"an unknown pipeline", ValidationQuery{Pipeline: "nope"}, "", false, "not found"},
		{"a token of another listing", ValidationQuery{PageRequest: PageRequest{PageToken: encodeToken("runs", "1:run-a")}}, "", false, "field:page_token"},
		{"a token without a count", ValidationQuery{PageRequest: PageRequest{PageToken: encodeToken("validations", "x:1:run-a")}}, "", false, "field:page_token"},
		{"a token of a run that is gone", ValidationQuery{PageRequest: PageRequest{PageToken: validationToken(metadata.RunCursor{ID: "run-zz"}, 1)}}, "", false, "not found"},
		{"a bad page size", ValidationQuery{PageRequest: PageRequest{PageSize: -1}}, "", false, "field:page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.svc.Validations(f.ctx, tc.q)
			wantErr(t, err, tc.error)
			if got := list(page); got != tc.want || (page.NextPageToken != "") != tc.more {
				t.Fatalf("validations %s (next %q), want %s (more: %v)", got, page.NextPageToken, tc.want, tc.more)
			}
		})
	}

	// Page by page, every result once, whatever the page size.
	for _, size := range []int{1, 2, 3, 4} {
		var got []string
		q := ValidationQuery{PageRequest: PageRequest{PageSize: size}}
		for {
			page, err := f.svc.Validations(f.ctx, q)
			wantErr(t, err, "")
			if s := list(page); s != "" {
				got = append(got, s)
			}
			if page.NextPageToken == "" {
				break
			}
			q.PageToken = page.NextPageToken
		}
		if strings.Join(got, ",") != "run-d/0,run-c/0,run-c/1,run-c/2,run-a/0,run-a/1" {
			t.Fatalf("pages of %d: %v", size, got)
		}
	}
	page, _ := f.svc.Validations(f.ctx, ValidationQuery{RunID: "run-a"})
	var res quality.Result
	if v := page.Items[1]; v.Pipeline != "orders" || v.QualityScore != 90 || v.ValidatedAt == nil || json.Unmarshal(v.Result, &res) != nil || res.Success {
		t.Fatalf("a validation %+v", page.Items[1])
	}
}

// TestQualityMetrics: each run's score oldest first with the mean and
// the last; each rule's pass rate in all and run by run.
func TestQualityMetrics(t *testing.T) {
	f := validationsFixture(t)
	m, err := f.svc.QualityMetrics(f.ctx, "orders", time.Time{}, time.Time{})
	wantErr(t, err, "")
	if len(m.Scores) != 2 || m.Scores[0].RunID != "run-a" || m.Scores[1].Score != 60 || m.Summary.Runs != 2 ||
		*m.Summary.MeanScore != 70 || *m.Summary.LastScore != 60 || m.Since != nil {
		t.Fatalf("scores %+v, summary %+v", m.Scores, m.Summary)
	}
	if len(m.Rules) != 1 {
		t.Fatalf("rules %+v", m.Rules)
	}
	r := m.Rules[0]
	if r.Rule != "expect_column_values_to_not_be_null(id)" || r.Evaluated != 5 || r.Passed != 2 || r.PassRate != 0.4 || len(r.Runs) != 2 ||
		r.Runs[0].RunID != "run-a" || r.Runs[0].Evaluated != 2 || r.Runs[0].Passed != 1 || r.Runs[1].Passed != 1 {
		t.Fatalf("rule %+v", r)
	}

	all, err := f.svc.QualityMetrics(f.ctx, "", day(21), day(24))
	wantErr(t, err, "")
	if len(all.Scores) != 2 || all.Scores[1].Pipeline != "events" || len(all.Rules) != 2 || all.Rules[0].Pipeline != "events" ||
		all.Since == nil || all.Until == nil {
		t.Fatalf("metrics of all pipelines %+v", all)
	}
	none, err := f.svc.QualityMetrics(f.ctx, "items", time.Time{}, time.Time{})
	wantErr(t, err, "")
	if none.Summary.Runs != 0 || none.Summary.MeanScore != nil || none.Scores == nil || none.Rules == nil {
		t.Fatalf("a pipeline without runs %+v", none)
	}

	_, err = f.svc.QualityMetrics(f.ctx, "nope", time.Time{}, time.Time{})
	wantErr(t, err, "not found")
	_, err = f.svc.QualityMetrics(f.ctx, "", day(22), day(21))
	wantErr(t, err, "field:since")
}
