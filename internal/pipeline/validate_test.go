package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
)

func withRules(t *testing.T, e *env, rules string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "quality_rules.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
}

func TestRulesQuarantineWarnAndFail(t *testing.T) {
	e := newEnv(t, "")
	withRules(t, e, `pipelines:
  p:
    rules:
      - expectation: expect_column_values_to_be_between
        kwargs: {column: amount, min_value: 0, max_value: 6}
        action: quarantine
        name: amount_in_range
      - expectation: expect_column_values_to_match_regex
        kwargs: {column: name, regex: "^[a-e]$"}
        severity: warning
        action: warn
`)
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// amounts 7, 8 and 9 exceed 6: three rows leave for the quarantine;
	// the name rule only warns.
	if res.Loaded != 5 || res.Quarantined != 5 || !res.InvariantOK {
		t.Fatalf("result %+v", res)
	}
	got := map[string]bool{}
	rows, err := e.wh.DB().Query(`SELECT reason FROM p__quarantine WHERE reason LIKE 'rule%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		rows.Scan(&r)
		got[r] = true
	}
	rows.Close()
	if !got["rule amount_in_range failed"] || len(got) != 1 {
		t.Fatalf("reasons %v", got)
	}
	var withQuality int
	for _, o := range res.Objects {
		if o.Quality != nil {
			withQuality++
			// f and g fail the name rule too: both rules failed, score 0.
			if o.Key == "c.jsonl" && (o.Quality.Quarantined != 1 || o.Quality.Score != 0 || len(o.Quality.Failed) != 2) {
				t.Errorf("c.jsonl quality %+v", o.Quality)
			}
		}
	}
	if withQuality != 5 {
		t.Fatalf("%d objects validated", withQuality)
	}
	if n := e.count(t, "SELECT count(*) FROM _shp.quality_results WHERE NOT success AND rule = 'amount_in_range'"); n != 3 {
		t.Fatalf("%d failing amount_in_range results stored, want one per object with amounts over 6", n)
	}
	tasks, _ := e.store.ListTasks(context.Background(), res.RunID)
	if !strings.Contains(tasks[0].Detail, `"quality_score"`) {
		t.Fatalf("validation not stored with the task: %q", tasks[0].Detail)
	}

	f := newEnv(t, "")
	withRules(t, f, `pipelines:
  p:
    rules:
      - expectation: expect_column_values_to_be_in_set
        kwargs: {column: name, value_set: [a]}
      - expectation: expect_column_values_to_not_be_null
        kwargs: {column: nope}
`)
	if f.runner.Project.QualityRules == nil {
		t.Fatal("rules not loaded")
	}
	_, err = f.runner.Run(context.Background(), "p", Options{})
	if !errors.Is(err, ErrQualityFailed) {
		t.Fatalf("err = %v", err)
	}
	if n := f.count(t, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'p'"); n != 0 {
		t.Fatal("a failing rule must stop the commit")
	}
}

func TestBadRulesFile(t *testing.T) {
	e := newEnv(t, "")
	withRules(t, e, "pipelines:\n  p:\n    rules:\n      - expectation: expect_nothing\n")
	if _, err := e.runner.Run(context.Background(), "p", Options{}); err == nil || !strings.Contains(err.Error(), `unknown expectation "expect_nothing"`) {
		t.Fatalf("err = %v", err)
	}
}

// countingHealer records that the hook ran between validation and commit.
type countingHealer struct{ calls int }

func (h *countingHealer) Heal(ctx context.Context, req HealRequest) (bool, error) {
	h.calls++
	if req.RunID == "" || req.Pipeline != "p" || req.Staged == nil || req.Suite == nil {
		return false, fmt.Errorf("incomplete request %+v", req)
	}
	again, err := req.Validate(ctx, req.Suite)
	if err != nil || again.Success != req.Result.Success {
		return false, fmt.Errorf("validate again: %v %v", again, err)
	}
	return !req.Result.Success, nil
}

func TestHealerHookRuns(t *testing.T) {
	e := newEnv(t, "")
	withRules(t, e, "pipelines:\n  p:\n    rules:\n      - expectation: expect_column_values_to_not_be_null\n        kwargs: {column: name}\n        action: warn\n")
	h := &countingHealer{}
	e.runner.Healer = h
	if _, err := e.runner.Run(context.Background(), "p", Options{}); err != nil {
		t.Fatal(err)
	}
	if h.calls != 5 {
		t.Fatalf("healer called %d times, want once per object", h.calls)
	}
}

// holdingHealer holds every commit until released, and records the
// batch it was shown.
type holdingHealer struct {
	countingHealer
	release bool
	seen    []HoldRequest
}

func (h *holdingHealer) HoldCommit(_ context.Context, req HoldRequest) (*HeldError, error) {
	h.seen = append(h.seen, req)
	if h.release {
		return nil, nil
	}
	return &HeldError{ActionID: 7, Reason: "row count 3 is far below the median"}, nil
}

// awaitingHealer holds the commit and, while the run waits, decides:
// approve releases the batch, else it is rejected.
type awaitingHealer struct {
	holdingHealer
	approve bool
	asked   []int64
}

func (h *awaitingHealer) AwaitDecision(_ context.Context, id int64) (bool, error) {
	h.asked = append(h.asked, id)
	if !h.approve {
		return false, fmt.Errorf("%w: action #%d: rejected by ana: not a real drop", ErrRejected, id)
	}
	h.release = true
	return true, nil
}

// TestHeldRunWaitsForTheDecision: a run whose commit is held waits for a
// person; an approval commits the batch in the same run, a rejection
// fails it with the person's reason and commits nothing.
func TestHeldRunWaitsForTheDecision(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "    mode: append\n")
	h := &awaitingHealer{}
	e.runner.Healer = h
	if _, err := e.runner.Run(ctx, "p", Options{}); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "not a real drop") {
		t.Fatalf("rejected run: %v", err)
	}
	if objs, _ := e.store.ListObjects(ctx, "p"); len(objs) != 0 {
		t.Fatalf("a rejected run marked %d objects processed", len(objs))
	}
	h.approve = true
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil || !res.InvariantOK {
		t.Fatalf("approved while waiting: %+v %v", res, err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 8 || len(h.asked) != 2 || h.asked[1] != 7 || len(h.seen) != 3 {
		t.Fatalf("target has %d rows (want 8); asked %v; %d hold checks (want 3)", n, h.asked, len(h.seen))
	}
}

// TestHolderStopsTheCommit: a held run commits nothing and marks nothing
// processed; the next run, released, loads the same objects.
func TestHolderStopsTheCommit(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	h := &holdingHealer{}
	e.runner.Healer = h
	ctx := context.Background()
	res, err := e.runner.Run(ctx, "p", Options{})
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "far below the median; nothing was committed") {
		t.Fatalf("held run: %v", err)
	}
	if len(h.seen) != 1 || h.seen[0].RowsIn != res.RowsIn || len(h.seen[0].Objects) != 5 || h.seen[0].Started.IsZero() {
		t.Fatalf("hold request %+v (run %+v)", h.seen, res)
	}
	if objs, _ := e.store.ListObjects(ctx, "p"); len(objs) != 0 {
		t.Fatalf("a held run marked %d objects processed", len(objs))
	}
	var target int64
	if err := e.wh.DB().QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'p'`).Scan(&target); err != nil || target != 0 {
		t.Fatalf("a held run created the target: %d %v", target, err)
	}
	h.release = true
	res2, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.RowsIn != res.RowsIn || !res2.InvariantOK || len(h.seen[1].Objects) != 5 {
		t.Fatalf("released run %+v", res2)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 8 {
		t.Fatalf("target has %d rows after the release, want 8", n)
	}
}

// A failed rule's log line and the run's error name the rule and count
// the rows, but carry data values (examples, a maximum) only when debug
// logging is on.
func TestRuleFailureLogsNoDataValuesUnlessDebug(t *testing.T) {
	rules := `pipelines:
  p:
    rules:
      - expectation: expect_column_values_to_match_regex
        kwargs: {column: name, regex: "^[a-e]$"}
        action: warn
        name: name_letters
      - expectation: expect_column_max_to_be_between
        kwargs: {column: amount, max_value: 2}
        action: warn
        name: amount_max
      - expectation: expect_table_row_count_to_be_between
        kwargs: {max_value: 0}
        action: warn
        name: no_rows
      - expectation: expect_column_values_to_be_in_set
        kwargs: {column: name, value_set: [a, b, c, d, e, f]}
        name: known_names
`
	for _, tc := range []struct {
		level      slog.Level
		wantValues bool
	}{{slog.LevelInfo, false}, {slog.LevelDebug, true}} {
		t.Run(tc.level.String(), func(t *testing.T) {
			e := newEnv(t, "")
			withRules(t, e, rules)
			var logs strings.Builder
			e.runner.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tc.level}))
			_, err := e.runner.Run(context.Background(), "p", Options{})
			if !errors.Is(err, ErrQualityFailed) {
				t.Fatalf("err = %v", err)
			}
			out := logs.String() + err.Error()
			for _, want := range []string{"rule=name_letters", "rule=amount_max", "unexpected_count=", "rule=no_rows", "detail=\"observed_value=", "known_names: unexpected_count=1"} {
				if !strings.Contains(out, want) {
					t.Errorf("%q missing from the logs and error:\n%s", want, out)
				}
			}
			// g is a name outside a-f; the largest amount is a value too.
			for _, value := range []string{`\"g\"`, `observed_value=3`, `observed_value=5`, `observed_value=7`} {
				if got := strings.Contains(out, value); got != tc.wantValues {
					t.Errorf("data value %s shown = %v, want %v:\n%s", value, got, tc.wantValues, out)
				}
			}
		})
	}
}
