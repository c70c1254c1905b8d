package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/healing"
)

// dailyProject has a pipeline reading data/{{ds}}/*.csv every day, and
// one reading the folder a trigger's parameter names.
func dailyProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := 1; d <= 3; d++ {
		day := fmt.Sprintf("2026-01-%02d", d)
		os.MkdirAll(filepath.Join(dir, "data", day), 0o755)
		os.WriteFile(filepath.Join(dir, "data", day, "orders.csv"), []byte(fmt.Sprintf("id,day\n%d,%s\n%d,%s\n", d*10, day, d*10+1, day)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`project: daily
pipelines:
  orders:
    source: daily
    schedule: "@daily"
    mode: merge
    key: [id]
  adhoc:
    source: picked
`), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(`sources:
  daily:
    type: file
    path: data/{{ds}}/*.csv
  picked:
    type: file
    path: data/{{params.day}}/*.csv
`), 0o644)
	return dir
}

// TestBackfillAndTrigger: a backfill over three days makes one run per
// day, each reading its own folder; a second backfill skips them; a
// trigger passes its parameters; runs show lists a run's tasks.
func TestBackfillAndTrigger(t *testing.T) {
	dir := dailyProject(t)
	code, out, errOut := shp(t, "backfill", "--config", dir, "--pipeline", "orders", "--from", "2026-01-01", "--to", "2026-01-03")
	if code != 0 || strings.Count(out, "succeeded") != 3 {
		t.Fatalf("backfill: %d\n%s\n%s", code, out, errOut)
	}
	rows := queryJSON(t, dir, "SELECT count(*) AS n, count(DISTINCT day) AS days FROM orders")
	if fmt.Sprint(rows[0]["n"]) != "6" || fmt.Sprint(rows[0]["days"]) != "3" {
		t.Fatalf("after the backfill: %v", rows)
	}
	code, out, _ = shp(t, "runs", "--config", dir, "--format", "json")
	var runs []runJSON
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 3 {
		t.Fatalf("runs %d %v: %s", code, err, out)
	}
	dates := map[string]bool{}
	for _, r := range runs {
		if r.Trigger != "backfill" || r.LogicalDate == nil || r.RowsIn != 2 {
			t.Errorf("run %+v", r)
			continue
		}
		dates[r.LogicalDate.Format("2006-01-02")] = true
	}
	if len(dates) != 3 {
		t.Errorf("logical dates %v", dates)
	}
	code, out, _ = shp(t, "backfill", "--config", dir, "--pipeline", "orders", "--from", "2026-01-01", "--to", "2026-01-03")
	if code != 0 || !strings.Contains(out, "3 interval(s) already succeeded, skipped") {
		t.Fatalf("second backfill: %d %s", code, out)
	}
	code, out, _ = shp(t, "runs", "show", runs[0].ID, "--config", dir)
	if code != 0 || !strings.Contains(out, "logical date 2026-01-0") || !strings.Contains(out, "load orders.csv") || !strings.Contains(out, "commit orders") {
		t.Fatalf("runs show: %d %s", code, out)
	}
	code, out, _ = shp(t, "runs", "show", runs[0].ID, "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"tasks"`) || !strings.Contains(out, `"trigger": "backfill"`) {
		t.Fatalf("runs show json: %d %s", code, out)
	}
	if code, _, errOut := shp(t, "runs", "show", "run-nope", "--config", dir); code != 2 || !strings.Contains(errOut, "not on record") {
		t.Fatalf("unknown run: %d %s", code, errOut)
	}

	code, out, errOut = shp(t, "trigger", "adhoc", "--config", dir, "--param", "day=2026-01-02")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("trigger: %d %s %s", code, out, errOut)
	}
	rows = queryJSON(t, dir, "SELECT min(day) AS d, count(*) AS n FROM adhoc")
	if !strings.HasPrefix(fmt.Sprint(rows[0]["d"]), "2026-01-02") || fmt.Sprint(rows[0]["n"]) != "2" {
		t.Fatalf("triggered run read %v", rows)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backfill", "--config", dir, "--pipeline", "nope", "--from", "2026-01-01", "--to", "2026-01-02"}, `pipeline "nope" is not defined`},
		{[]string{"backfill", "--config", dir, "--pipeline", "orders", "--from", "2026-01-05", "--to", "2026-01-02"}, "is before --from"},
		{[]string{"backfill", "--config", dir, "--pipeline", "orders", "--from", "yesterday", "--to", "2026-01-02"}, `date "yesterday"`},
		{[]string{"trigger", "adhoc", "--config", dir, "--param", "oops"}, "want KEY=VALUE"},
		{[]string{"pause", "nope", "--config", dir}, `pipeline "nope" is not defined`},
	} {
		if code, _, errOut := shp(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
	// A failing interval fails the backfill with exit 1.
	os.WriteFile(filepath.Join(dir, "data", "2026-01-03", "bad.csv"), []byte("id,day\nx,y\nz,w\nq,r\n"), 0o644)
	if code, out, _ := shp(t, "backfill", "--config", dir, "--pipeline", "orders", "--from", "2026-01-03", "--to", "2026-01-03", "--rerun"); code != 1 || !strings.Contains(out, "failed") {
		t.Fatalf("failing backfill: %d %s", code, out)
	}
}

// TestServe runs the scheduler on an every-second schedule, then stops it
// as SIGTERM would; a paused pipeline does not run.
func TestServe(t *testing.T) {
	dir := dailyProject(t)
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), `schedule: "@daily"`, `schedule: "@every 1s"`, 1)), 0o644)
	os.MkdirAll(filepath.Join(dir, "data", time.Now().UTC().Format("2006-01-02")), 0o755)
	if code, out, _ := shp(t, "pause", "orders", "--config", dir); code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %d %s", code, out)
	}
	serve := func(d time.Duration) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var out, errOut strings.Builder
		code := Main(ctx, []string{"serve", "--config", dir, "--grace", "5s"}, strings.NewReader(""), &out, &errOut)
		return code, errOut.String()
	}
	code, errOut := serve(2500 * time.Millisecond)
	if code != 0 || !strings.Contains(errOut, "shp serve: stopped") {
		t.Fatalf("serve: %d %s", code, errOut)
	}
	if _, out, _ := shp(t, "runs", "--config", dir, "--format", "json"); strings.Contains(out, `"scheduled"`) {
		t.Fatalf("a paused pipeline ran: %s", out)
	}
	shp(t, "unpause", "orders", "--config", dir)
	// With an optimisation schedule, serve runs its rounds too.
	b, _ = os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, "optimization:\n  schedule: '0 3 * * *'\n  auto_apply: [index]\n"...), 0o644)
	if code, errOut = serve(3500 * time.Millisecond); code != 0 || !strings.Contains(errOut, `shp serve: optimisation rounds on "0 3 * * *" (UTC), auto_apply [index]`) {
		t.Fatalf("serve: %d %s", code, errOut)
	}
	_, out, _ := shp(t, "runs", "--config", dir, "--format", "json")
	var runs []runJSON
	json.Unmarshal([]byte(out), &runs)
	scheduled := 0
	for _, r := range runs {
		if r.Trigger == "scheduled" && r.Status == "succeeded" {
			scheduled++
		}
	}
	if scheduled < 1 {
		t.Fatalf("no scheduled run succeeded: %s", out)
	}
}

// TestCommandsWhileServing: while shp serve holds the warehouse, shp run
// and shp query are handed to it instead of failing on the lock.
func TestCommandsWhileServing(t *testing.T) {
	dir := initProject(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errOut strings.Builder
	go func() {
		var out strings.Builder
		done <- Main(ctx, []string{"serve", "--config", dir}, strings.NewReader(""), &out, &errOut)
	}()
	sock := filepath.Join(dir, ".shp", "serve.sock")
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	code, out, stderr := shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "rows in 3750") {
		t.Fatalf("run through the server: %d %s %s", code, out, stderr)
	}
	code, out, stderr = shp(t, "query", "--config", dir, "--format", "csv", "SELECT count(*) AS n FROM sales")
	if code != 0 || !strings.Contains(out, "n\n") {
		t.Fatalf("query through the server: %d %q %s", code, out, stderr)
	}
	code, _, stderr = shp(t, "query", "--config", dir, "SELECT * FROM no_such_table")
	if code != 1 || !strings.Contains(stderr, "no_such_table") {
		t.Fatalf("a failing query through the server: %d %s", code, stderr)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve: %d %s", code, errOut.String())
	}
	if _, err := os.Stat(sock); err == nil {
		t.Fatal("the socket outlived the server")
	}
	// With the server gone the commands open the warehouse themselves.
	if code, out, _ := shp(t, "query", "--config", dir, "--format", "csv", "SELECT count(*) FROM sales"); code != 0 || !strings.Contains(out, "3746") {
		t.Fatalf("query without a server: %d %s", code, out)
	}
}

// TestRetriesOnAFlakySource: an API that fails its first calls makes the
// first attempts fail (the connector is told not to retry); the pipeline's
// retries run it again with backoff until it succeeds.
func TestRetriesOnAFlakySource(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`[{"id": 1}, {"id": 2}]`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`project: flaky
pipelines:
  items:
    source: api
    schedule: "@daily"
    retries: {attempts: 4, initial_interval: 10ms, max_interval: 50ms}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  api:\n    type: api\n    url: "+srv.URL+"\n    retry: {attempts: 1}\n"), 0o644)
	code, out, errOut := shp(t, "backfill", "--config", dir, "--pipeline", "items", "--from", "2026-01-01", "--to", "2026-01-01")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("backfill: %d %s %s", code, out, errOut)
	}
	_, out, _ = shp(t, "runs", "--config", dir, "--format", "json")
	var runs []runJSON
	json.Unmarshal([]byte(out), &runs)
	attempts := map[int]string{}
	for _, r := range runs {
		attempts[r.Attempt] = r.Status
	}
	if len(runs) != 3 || attempts[1] != "failed" || attempts[2] != "failed" || attempts[3] != "succeeded" {
		t.Fatalf("attempts %v: %s", attempts, out)
	}
}

// TestHealingCommands: train, models, diagnose, label and eval.
func TestHealingCommands(t *testing.T) {
	dir := initProject(t)
	code, out, errOut := shp(t, "healing", "train", "--config", dir)
	if code != 0 || !strings.Contains(out, "model v1") || !strings.Contains(out, "promoted") {
		t.Fatalf("train: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "healing", "diagnose", "--config", dir, "ERROR: deadlock detected (SQLSTATE 40P01)")
	if code != 0 || !strings.HasPrefix(out, "deadlock (confidence 0.99, by signature sqlstate 40P01)") {
		t.Fatalf("diagnose: %d %s", code, out)
	}
	code, out, _ = shp(t, "healing", "diagnose", "--config", dir, "--format", "json", "extra column \"coupon\" is not in the schema; ignored")
	if code != 0 || !strings.Contains(out, `"category": "schema_drift_added"`) || !strings.Contains(out, `"by": "model v1"`) {
		t.Fatalf("diagnose json: %d %s", code, out)
	}
	if code, out, _ = shp(t, "healing", "label", "--config", dir, "--category", "late_data", "partition 2026-02-01 is not there yet"); code != 0 || !strings.Contains(out, "recorded as late_data") {
		t.Fatalf("label: %d %s", code, out)
	}
	if code, _, errOut = shp(t, "healing", "label", "--config", dir, "--category", "nonsense", "x"); code != 2 || !strings.Contains(errOut, "not in the taxonomy") {
		t.Fatalf("bad label: %d %s", code, errOut)
	}
	code, out, _ = shp(t, "healing", "train", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"version": 2`) || !strings.Contains(out, `"current_version": 1`) {
		t.Fatalf("second train: %d %s", code, out)
	}
	if code, out, _ = shp(t, "healing", "models", "--config", dir); code != 0 || !strings.Contains(out, "MACRO F1") || strings.Count(out, "\n") != 3 {
		t.Fatalf("models: %d %s", code, out)
	}
	report := filepath.Join(t.TempDir(), "eval.md")
	if code, out, _ = shp(t, "healing", "eval", "--config", dir, "--out", report); code != 0 {
		t.Fatalf("eval: %d %s", code, out)
	}
	b, _ := os.ReadFile(report)
	if !strings.Contains(string(b), "| category | support | precision | recall | F1 |") || !strings.Contains(string(b), "hand-labeled held-out examples alone") {
		t.Fatalf("report:\n%s", b)
	}
	if code, out, _ = shp(t, "healing", "eval", "--config", dir, "--format", "json"); code != 0 || !strings.Contains(out, `"hand_labeled_held_out"`) {
		t.Fatalf("eval json: %d %s", code, out)
	}
	// The report suggests a threshold per category and, once a model
	// replaced another, shows how precision moved on the same examples.
	var evalDoc struct {
		Version  int                                      `json:"model_version"`
		HeldOut  struct{ Classes []healing.ClassMetrics } `json:"held_out"`
		Previous *struct {
			Version int `json:"model_version"`
		} `json:"previous"`
	}
	if err := json.Unmarshal([]byte(out), &evalDoc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "suggested threshold |") {
		t.Fatalf("report without thresholds:\n%s", b)
	}
	suggested := 0
	for _, c := range evalDoc.HeldOut.Classes {
		if c.SuggestedThreshold > 0 {
			suggested++
		}
	}
	if suggested == 0 {
		t.Errorf("no category got a suggested threshold: %+v", evalDoc.HeldOut.Classes)
	}
	switch evalDoc.Version {
	case 2:
		if evalDoc.Previous == nil || evalDoc.Previous.Version != 1 || !strings.Contains(string(b), "## Against v1 on the same held-out set") {
			t.Errorf("v2 active, no comparison with v1: %+v\n%s", evalDoc.Previous, b)
		}
	case 1:
		if evalDoc.Previous != nil || strings.Contains(string(b), "## Against") {
			t.Errorf("v1 active, compared with %+v", evalDoc.Previous)
		}
	default:
		t.Errorf("active model v%d", evalDoc.Version)
	}
	// A third version made active: the report compares it with v2.
	svc, err := openStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := svc.store.GetModel(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	v2.Active = true
	_, err = svc.store.SaveModel(context.Background(), v2)
	svc.close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ = shp(t, "healing", "eval", "--config", dir); code != 0 || !strings.Contains(out, "## Against v2 on the same held-out set") || !strings.Contains(out, "| precision v2 | precision v3 | change |") {
		t.Fatalf("eval after v3: %d %s", code, out)
	}
	fresh := initProject(t)
	if code, _, errOut = shp(t, "healing", "eval", "--config", fresh); code != 1 || !strings.Contains(errOut, "run shp healing train first") {
		t.Fatalf("eval without a model: %d %s", code, errOut)
	}
	// Detection on a pipeline with one run: not enough history.
	shp(t, "run", "--config", dir)
	if code, out, _ = shp(t, "healing", "detect", "--config", dir, "--pipeline", "sales"); code != 0 || !strings.Contains(out, "nothing out of line") {
		t.Fatalf("detect: %d %s", code, out)
	}
	if code, out, _ = shp(t, "healing", "detect", "--config", dir, "--pipeline", "sales", "--format", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("detect json: %d %s", code, out)
	}
	if code, _, errOut = shp(t, "healing", "detect", "--config", dir); code != 2 || !strings.Contains(errOut, "RUN_ID or --pipeline") {
		t.Fatalf("detect without a run: %d %s", code, errOut)
	}
}
