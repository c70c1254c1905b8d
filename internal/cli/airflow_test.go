package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportAirflow writes one DAG per pipeline, with the schedule,
// retries, timeout and the upstream pipeline's sensor, and checks that
// Python compiles them.
func TestExportAirflow(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir := dailyProject(t)
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	b = []byte(strings.Replace(string(b), "  adhoc:\n    source: picked\n", `  adhoc:
    source: picked
    description: 'Ad hoc "picks" of a day'
    depends_on: [orders]
    retries: {attempts: 3, initial_interval: 1m, max_interval: 10m}
    timeout: 2h
`, 1))
	os.WriteFile(cfg, b, 0o644)
	out := t.TempDir()
	for _, args := range [][]string{
		{"export", "airflow", "--config", dir, "--out", out, "--start-date", "2026-01-01"},
		{"export", "airflow", "--config", dir, "--out", filepath.Join(out, "k8s"), "--operator", "kubernetes", "--image", "ghcr.io/shp-dev/shp:1", "--namespace", "data",
			"--env", "SHP_BQ_DATASET=analytics", "--env", `NOTE=it's "quoted"`, "--secret-env", "SHP_METADATA_DSN=shp-secrets:metadata-dsn"},
		{"export", "airflow", "--config", dir, "--out", filepath.Join(out, "bashenv"), "--env", "SHP_BQ_DATASET=analytics"},
	} {
		if code, stdout, errOut := shp(t, args...); code != 0 || strings.Count(stdout, "wrote ") != 2 {
			t.Fatalf("%v: %d %s %s", args, code, stdout, errOut)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.py"))
	k8s, _ := filepath.Glob(filepath.Join(out, "k8s", "*.py"))
	bashEnv, _ := filepath.Glob(filepath.Join(out, "bashenv", "*.py"))
	if len(files) != 2 || len(k8s) != 2 || len(bashEnv) != 2 {
		t.Fatalf("files %v %v %v", files, k8s, bashEnv)
	}
	if b, _ := os.ReadFile(bashEnv[0]); !strings.Contains(string(b), `"SHP_BQ_DATASET": "analytics",`) || !strings.Contains(string(b), "append_env=True") {
		t.Errorf("a BashOperator DAG with --env:\n%s", b)
	}
	for _, f := range append(append(files, k8s...), bashEnv...) {
		if b, err := exec.Command(python, "-m", "py_compile", f).CombinedOutput(); err != nil {
			t.Fatalf("%s does not compile: %v\n%s", f, err, b)
		}
	}
	adhoc, _ := os.ReadFile(filepath.Join(out, "shp_daily_adhoc.py"))
	orders, _ := os.ReadFile(filepath.Join(out, "shp_daily_orders.py"))
	for _, want := range []string{
		`dag_id="shp_daily_adhoc"`, `schedule=None`, `"retries": 2`, `timedelta(seconds=60)`, `"max_retry_delay": timedelta(seconds=600)`,
		`"execution_timeout": timedelta(seconds=7200)`, `external_dag_id="shp_daily_orders"`, `wait_for_orders >> run`,
		`--pipeline " + shlex.quote("adhoc")`, `{{ ts }}`, `description="Ad hoc \"picks\" of a day"`, `pendulum.datetime(2026, 1, 1, tz="UTC")`,
	} {
		if !strings.Contains(string(adhoc), want) {
			t.Errorf("adhoc DAG lacks %s:\n%s", want, adhoc)
		}
	}
	if !strings.Contains(string(orders), `schedule="@daily"`) || strings.Contains(string(orders), "ExternalTaskSensor") {
		t.Errorf("orders DAG:\n%s", orders)
	}
	k, _ := os.ReadFile(filepath.Join(out, "k8s", "shp_daily_orders.py"))
	for _, want := range []string{`KubernetesPodOperator(`, `image="ghcr.io/shp-dev/shp:1"`, `from airflow.providers.cncf.kubernetes.secret import Secret`,
		`"SHP_BQ_DATASET": "analytics",`, `"NOTE": "it's \"quoted\"",`, `Secret("env", "SHP_METADATA_DSN", "shp-secrets", "metadata-dsn"),`} {
		if !strings.Contains(string(k), want) {
			t.Errorf("kubernetes DAG lacks %s:\n%s", want, k)
		}
	}
	if strings.Contains(string(orders), "env=") || strings.Contains(string(orders), "Secret(") {
		t.Errorf("a DAG exported without --env has an environment:\n%s", orders)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--operator", "docker"}, "--operator must be bash or kubernetes"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--operator", "kubernetes"}, "--image is required"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--env", "1BAD=x"}, "must be NAME=VALUE"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--env", "NOVALUE"}, "must be NAME=VALUE"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--secret-env", "A=s:k"}, "needs --operator kubernetes"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--operator", "kubernetes", "--image", "i", "--secret-env", "A=Bad_Secret:k"}, "NAME=SECRET:KEY"},
		{[]string{"export", "airflow", "--config", dir, "--out", out, "--operator", "kubernetes", "--image", "i", "--secret-env", "A=s"}, "NAME=SECRET:KEY"},
	} {
		if code, _, errOut := shp(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
}

// TestTaskRun is what an Airflow task does: one run for one logical date,
// under the orchestrator's run id, recorded like the scheduler's.
func TestTaskRun(t *testing.T) {
	dir := dailyProject(t)
	args := []string{"task", "run", "--config", dir, "--pipeline", "orders", "--task", "run",
		"--run-id", "scheduled__2026-01-02T00:00:00+00:00-1", "--logical-date", "2026-01-02T00:00:00+00:00"}
	if code, out, errOut := shp(t, args...); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("task run: %d %s %s", code, out, errOut)
	}
	_, out, _ := shp(t, "runs", "--config", dir, "--format", "json")
	var runs []runJSON
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %s", err, out)
	}
	r := runs[0]
	if r.ID != "af-scheduled__2026-01-02T00-00-00-00-00-1" || r.Trigger != "airflow" || r.RowsIn != 2 || r.LogicalDate.Format("2006-01-02") != "2026-01-02" {
		t.Fatalf("run %+v", r)
	}
	// The backfill sees the interval as done.
	code, out, _ := shp(t, "backfill", "--config", dir, "--pipeline", "orders", "--from", "2026-01-02", "--to", "2026-01-02")
	if code != 0 || !strings.Contains(out, "1 interval(s) already succeeded") {
		t.Fatalf("backfill after task run: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"task", "run", "--config", dir, "--pipeline", "orders", "--task", "extract", "--logical-date", "2026-01-02"}, `task "extract" is unknown`},
		{[]string{"task", "run", "--config", dir, "--pipeline", "nope", "--logical-date", "2026-01-02"}, `pipeline "nope" is not defined`},
		{[]string{"task", "run", "--config", dir, "--pipeline", "orders", "--logical-date", "soon"}, `date "soon"`},
	} {
		if code, _, errOut := shp(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
}
