package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/warehouse"
)

// healingProject has orders whose regions are written sloppily and whose
// ids repeat, rules that fail on both, and a policy given as YAML.
func healingProject(t *testing.T, policy string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "orders.csv"), []byte(
		"id,region,amount\n1,EMEA,10\n2, emea ,20\n3,Apac,30\n4,AMER,40\n4,AMER,41\n5,atlantis,50\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: heal\ndefaults:\n  max_quarantine_ratio: 0.5\npipelines:\n  orders:\n    source: files\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*.csv\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte(`pipelines:
  orders:
    rules:
      - expectation: expect_column_values_to_be_in_set
        kwargs: {column: region, value_set: [EMEA, APAC, AMER], mostly: 0.8}
      - expectation: expect_column_values_to_be_unique
        kwargs: {column: id}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "self_healing.yaml"), []byte(policy), 0o644)
	return dir
}

type actionOut struct {
	Strategy     string  `json:"strategy"`
	Status       string  `json:"status"`
	RowsAffected int64   `json:"rows_affected"`
	Confidence   float64 `json:"confidence"`
	ApprovedBy   string  `json:"approved_by"`
	Reason       string  `json:"reason"`
	Category     string  `json:"category"`
}

func actions(t *testing.T, dir string) []actionOut {
	t.Helper()
	var out []actionOut
	for _, a := range actionsWithID(t, dir) {
		out = append(out, a.actionOut)
	}
	return out
}

// TestHealingFixesStagedRows: with both strategies approved by policy, the
// sloppy regions are normalised and the earlier duplicate is set aside;
// the rules then pass and the run commits, every row accounted for.
func TestHealingFixesStagedRows(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.8\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n")
	code, out, errOut := shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "rows in 6 = loaded 5 + quarantined 1") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	rows := queryJSON(t, dir, "SELECT string_agg(region, ',' ORDER BY id) AS regions, count(*) AS n, sum(amount) AS total FROM orders")
	if rows[0]["regions"] != "EMEA,EMEA,APAC,AMER,atlantis" || fmt.Sprint(rows[0]["total"]) != "151" {
		t.Fatalf("target: %v", rows)
	}
	q := queryJSON(t, dir, "SELECT reason FROM orders__quarantine")
	if len(q) != 1 || !strings.Contains(fmt.Sprint(q[0]["reason"]), "an earlier duplicate of (id)") {
		t.Fatalf("quarantine: %v", q)
	}
	as := actions(t, dir)
	byStrategy := map[string]actionOut{}
	for _, a := range as {
		byStrategy[a.Strategy] = a
	}
	n, d := byStrategy["normalize_to_value_set"], byStrategy["quarantine_duplicates"]
	if n.Status != "applied" || n.RowsAffected != 2 || n.ApprovedBy != "policy" || !strings.Contains(n.Reason, "verified: unexpected values 3 -> 1") {
		t.Errorf("normalize: %+v", n)
	}
	if d.Status != "applied" || d.RowsAffected != 1 {
		t.Errorf("dedupe: %+v", d)
	}
	if code, out, _ := shp(t, "healing", "actions", "--config", dir); code != 0 || !strings.Contains(out, "issue: rule expect_column_values_to_be_in_set(region) failed") || !strings.Contains(out, `before: [" emea ","Apac"]`) {
		t.Errorf("actions text: %d %s", code, out)
	}
}

// TestHealingProposesOrDryRuns: a strategy not in auto_approve, or a dry
// run, changes nothing; the failing rule fails the run as configured.
func TestHealingProposesOrDryRuns(t *testing.T) {
	for policy, want := range map[string]string{
		"confidence_threshold: 0.8\n": "proposed",
		"dry_run: true\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n": "dry_run",
		"confidence_threshold: 0.99\nauto_approve: [normalize_to_value_set]\n":           "proposed",
	} {
		dir := healingProject(t, policy)
		if code, out, _ := shp(t, "run", "--config", dir); code != 1 {
			t.Fatalf("%q: the run should fail on its rules: %d %s", policy, code, out)
		}
		for _, a := range actions(t, dir) {
			if a.Status != want {
				t.Errorf("%q: %+v, want %s", policy, a, want)
			}
		}
	}
	dir := healingProject(t, "auto_approve: [teleport]\n")
	if code, _, errOut := shp(t, "run", "--config", dir); code != 2 || !strings.Contains(errOut, `strategy "teleport" is unknown`) {
		t.Fatalf("bad policy: %d %s", code, errOut)
	}
}

// makeWorse is a strategy that breaks the rows it touches, to check that
// verification rolls such a change back.
type makeWorse struct{}

func (makeWorse) Name() string { return "make_worse" }

func (makeWorse) Applies(f healing.Failure) bool {
	return f.Config.Type == "expect_column_values_to_be_in_set"
}

func (makeWorse) Plan(ctx context.Context, env *healing.RepairEnv, f healing.Failure) (*healing.Repair, error) {
	return &healing.Repair{Description: "rewrite valid regions", Confidence: 1,
		Plan: warehouse.MapValues{Column: "region", Mapping: map[string]string{"EMEA": "nowhere"}}, Rows: 1, Params: map[string]any{}}, nil
}

func init() { healing.RegisterStrategy(makeWorse{}) }

// TestHealingRollsBackWhatDoesNotHelp: an approved change that makes the
// rule worse is undone, recorded as rolled back, and the data is as loaded.
func TestHealingRollsBackWhatDoesNotHelp(t *testing.T) {
	dir := healingProject(t, "auto_approve: [make_worse, quarantine_duplicates]\n")
	if code, out, _ := shp(t, "run", "--config", dir); code != 1 || !strings.Contains(out, "expect_column_values_to_be_in_set(region)") {
		t.Fatalf("run: %d %s", code, out)
	}
	var worse actionOut
	for _, a := range actions(t, dir) {
		if a.Strategy == "make_worse" {
			worse = a
		}
	}
	if worse.Status != "rolled_back" || !strings.Contains(worse.Reason, "did not improve") {
		t.Fatalf("make_worse: %+v", worse)
	}
}

// TestApproveThenRerun: a proposed repair fails the run; a person approves
// it; the rerun applies it and commits. A rejection teaches the diagnosis.
func TestApproveThenRerun(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.9\nauto_approve: [quarantine_duplicates]\n")
	if code, out, _ := shp(t, "run", "--config", dir); code != 1 || !strings.Contains(out, "rows in 6: nothing was committed") {
		t.Fatalf("the first run should fail on the region rule and commit nothing: %d\n%s", code, out)
	}
	code, out, _ := shp(t, "healing", "actions", "--config", dir, "--status", "proposed", "--format", "json")
	var proposed []struct {
		ID       int64  `json:"id"`
		Strategy string `json:"strategy"`
	}
	json.Unmarshal([]byte(out), &proposed)
	var normalizeID, worseID int64
	for _, p := range proposed {
		switch p.Strategy {
		case "normalize_to_value_set":
			normalizeID = p.ID
		case "make_worse":
			worseID = p.ID
		}
	}
	if code != 0 || normalizeID == 0 || worseID == 0 {
		t.Fatalf("proposed: %d %s", code, out)
	}
	if code, out, _ := shp(t, "healing", "approve", fmt.Sprint(normalizeID), "--config", dir, "--by", "ann", "--reason", "the set is right"); code != 0 || !strings.Contains(out, "approved by ann") {
		t.Fatalf("approve: %d %s", code, out)
	}
	if code, out, _ := shp(t, "healing", "reject", fmt.Sprint(worseID), "--config", dir, "--by", "ann", "--reason", "breaks data", "--category", "config_error"); code != 0 || !strings.Contains(out, "rejected by ann") {
		t.Fatalf("reject: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"healing", "approve", fmt.Sprint(normalizeID), "--config", dir}, "only a proposed action"},
		{[]string{"healing", "approve", "99999", "--config", dir}, "not found"},
		{[]string{"healing", "approve", "x", "--config", dir}, "not a number"},
		{[]string{"healing", "reject", fmt.Sprint(worseID), "--config", dir}, "--reason"},
	} {
		if code, _, errOut := shp(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
	code, out, errOut := shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("rerun after the approval: %d\n%s\n%s", code, out, errOut)
	}
	var applied actionOut
	for _, a := range actions(t, dir) {
		if a.Strategy == "normalize_to_value_set" && a.Status == "applied" {
			applied = a
		}
	}
	if !strings.Contains(applied.ApprovedBy, "ann (approval of action #") {
		t.Fatalf("applied action: %+v", applied)
	}
	// The rejection stands: the rejected strategy is not proposed again.
	if worse := countActions(t, dir, "make_worse"); worse != 1 {
		t.Fatalf("the rejected strategy has %d actions, want its one rejected proposal", worse)
	}
	// Both decisions are training examples now.
	code, out, _ = shp(t, "healing", "train", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"version": 1`) {
		t.Fatalf("train: %d %s", code, out)
	}
}

// TestRunWaitsForARuleRepair: with approval_timeout, rule repairs that
// need approval wait for a person in the same run: a rejected one is left
// out, an approved one is applied, and the run commits.
func TestRunWaitsForARuleRepair(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.99\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\napproval_timeout: 1m\n"+
		"strategies: {quarantine_duplicates: {threshold: 0.5}}\n")
	done := runInBackground(t, dir)
	// This package's test strategy is proposed first: rejected, the run
	// goes on to the next proposal.
	worse := awaitProposal(t, dir, "make_worse")
	if code, out, errOut := shp(t, "healing", "reject", fmt.Sprint(worse), "--config", dir, "--reason", "breaks data"); code != 0 {
		t.Fatalf("reject: %d %s %s", code, out, errOut)
	}
	id := awaitProposal(t, dir, "normalize_to_value_set")
	if code, out, errOut := shp(t, "healing", "approve", fmt.Sprint(id), "--config", dir, "--by", "ann"); code != 0 {
		t.Fatalf("approve: %d %s %s", code, out, errOut)
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.out, "succeeded") {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.out, r.err)
	}
	rows := queryJSON(t, dir, "SELECT string_agg(region, ',' ORDER BY id) AS regions FROM orders")
	if rows[0]["regions"] != "EMEA,EMEA,APAC,AMER,atlantis" {
		t.Fatalf("target: %v", rows)
	}
	if applied := appliedID(t, dir, "normalize_to_value_set"); applied == 0 {
		t.Fatal("no applied normalize_to_value_set action")
	}
}

// TestRevertRestoresTheOriginals: reverting an applied rewrite puts the
// original values back in the target, marks the action reverted, and the
// strategy then waits for a person on that rule.
func TestRevertRestoresTheOriginals(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.8\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	id := appliedID(t, dir, "normalize_to_value_set")
	if code, _, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Fatalf("revert without a reason: %d %s", code, errOut)
	}
	code, out, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir, "--reason", "Apac is a different code", "--by", "ana")
	if code != 0 || !strings.Contains(out, "2 rows of orders restored") {
		t.Fatalf("revert: %d %s %s", code, out, errOut)
	}
	rows := queryJSON(t, dir, "SELECT string_agg(region, ',' ORDER BY id) AS regions FROM orders")
	if rows[0]["regions"] != "EMEA, emea ,Apac,AMER,atlantis" {
		t.Fatalf("after revert: %v", rows)
	}
	if code, _, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir, "--reason", "again"); code != 2 || !strings.Contains(errOut, "is reverted") {
		t.Fatalf("second revert: %d %s", code, errOut)
	}
	dup := "id,region,amount\n9,Apac,1\n"
	os.WriteFile(filepath.Join(dir, "data", "more.csv"), []byte(dup), 0o644)
	shp(t, "run", "--config", dir)
	var last actionWithID
	for _, a := range actionsWithID(t, dir) {
		if a.Strategy == "normalize_to_value_set" && a.ID > last.ID {
			last = a
		}
	}
	if last.Status != "proposed" || !strings.Contains(last.Reason, fmt.Sprintf("action #%d of this strategy on this rule was reverted", id)) {
		t.Fatalf("after a revert the strategy should wait: %+v", last)
	}
}

// TestRevertSetAsideRows: reverting a de-duplication of an append target
// moves the earlier duplicate from quarantine back into the target, typed
// as it was; in a merge target there is nothing to restore.
func TestRevertSetAsideRows(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.8\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	id := appliedID(t, dir, "quarantine_duplicates")
	if q := queryJSON(t, dir, "SELECT count(*) AS n FROM orders__quarantine"); fmt.Sprint(q[0]["n"]) != "1" {
		t.Fatalf("quarantine before: %v", q)
	}
	code, out, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir, "--reason", "both orders are real", "--by", "ana")
	if code != 0 || !strings.Contains(out, "1 rows moved from orders__quarantine back to orders") {
		t.Fatalf("revert: %d %s %s", code, out, errOut)
	}
	rows := queryJSON(t, dir, "SELECT string_agg(id || ':' || amount, ',' ORDER BY id, amount) AS r, (SELECT count(*) FROM orders__quarantine) AS q FROM orders")
	if rows[0]["r"] != "1:10,2:20,3:30,4:40,4:41,5:50" || fmt.Sprint(rows[0]["q"]) != "0" {
		t.Fatalf("after revert: %v", rows)
	}

	dir = healingProject(t, "confidence_threshold: 0.8\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n")
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	// A uniqueness rule on id with a merge on (id, amount): the merge
	// does not resolve id's duplicates, the rule sets them aside.
	os.WriteFile(cfg, append(b, "    mode: merge\n    key: [id, amount]\n"...), 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	id = appliedID(t, dir, "quarantine_duplicates")
	if code, _, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir, "--reason", "x"); code != 2 || !strings.Contains(errOut, "merges on its key") {
		t.Fatalf("revert in a merge target: %d %s", code, errOut)
	}
}

// TestProposalsAreNotRepeated: running a failing batch again does not
// propose the same undecided action twice.
func TestProposalsAreNotRepeated(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.8\n")
	for range 3 {
		if code, out, _ := shp(t, "run", "--config", dir); code != 1 {
			t.Fatalf("the run should fail on its rules: %d %s", code, out)
		}
	}
	n := map[string]int{}
	for _, a := range actions(t, dir) {
		n[a.Strategy]++
	}
	if n["normalize_to_value_set"] != 1 || n["quarantine_duplicates"] != 1 {
		t.Fatalf("proposals per strategy: %v", n)
	}
}

// TestFillDeclaredDefault: a not-null rule that declares a default lets
// the engine fill the NULLs with it (and only with it); the fill can be
// reverted. A default on another kind of rule is refused.
func TestFillDeclaredDefault(t *testing.T) {
	dir := healingProject(t, "auto_approve: [fill_declared_default]\n")
	os.WriteFile(filepath.Join(dir, "data", "orders.csv"), []byte("id,region,amount\n1,EMEA,10\n2,,20\n3,AMER,30\n"), 0o644)
	rules := "pipelines:\n  orders:\n    rules:\n      - expectation: expect_column_values_to_not_be_null\n        kwargs: {column: region}\n        default: UNKNOWN\n"
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte(rules), 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	if rows := queryJSON(t, dir, "SELECT string_agg(region, ',' ORDER BY id) AS r FROM orders"); rows[0]["r"] != "EMEA,UNKNOWN,AMER" {
		t.Fatalf("target: %v", rows)
	}
	id := appliedID(t, dir, "fill_declared_default")
	if code, out, errOut := shp(t, "healing", "revert", fmt.Sprint(id), "--config", dir, "--reason", "unknown is not a region"); code != 0 || !strings.Contains(out, "1 rows of orders restored") {
		t.Fatalf("revert: %d %s %s", code, out, errOut)
	}
	if rows := queryJSON(t, dir, "SELECT count(*) AS n FROM orders WHERE region IS NULL"); fmt.Sprint(rows[0]["n"]) != "1" {
		t.Fatalf("after revert: %v", rows)
	}
	// A default the column cannot hold fills nothing: the rule fails as it would.
	os.WriteFile(filepath.Join(dir, "data", "more.csv"), []byte("id,region,amount\n7,EMEA,\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte(strings.Replace(strings.Replace(rules, "region}", "amount}", 1), "UNKNOWN", "n/a", 1)), 0o644)
	if code, _, _ := shp(t, "run", "--config", dir); code != 1 {
		t.Fatalf("a default the column cannot hold: exit %d, want the rule to fail the run", code)
	}
	if n := countActions(t, dir, "fill_declared_default"); n != 1 {
		t.Fatalf("fill_declared_default acted on a default the column cannot hold: %d actions", n)
	}
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte(strings.Replace(rules, "expect_column_values_to_not_be_null", "expect_column_values_to_be_unique", 1)), 0o644)
	if code, _, errOut := shp(t, "run", "--config", dir); code == 0 || !strings.Contains(errOut, "default applies to expect_column_values_to_not_be_null only") {
		t.Fatalf("a default on a uniqueness rule: %d %s", code, errOut)
	}
}
