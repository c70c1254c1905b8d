package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestRunBindsTriggerParameters runs the template, SELECT ...
// WHERE id > {{params.min_id}} AND tenant = 'a', with min_id=0--: pasted,
// it commented the tenant out and loaded another tenant's rows. Bound, an
// undeclared min_id fails the run (PostgreSQL reads it as an integer), a
// declared int refuses it before reading, and a good value loads tenant
// a's rows only. Each failed run is recorded with its reason.
func TestRunBindsTriggerParameters(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE accounts (id int, tenant text)", "INSERT INTO accounts VALUES (1, 'a'), (2, 'b'), (3, 'a')")
	t.Setenv("SHP_TEST_PARAMS_DSN", dsn)
	const query = "    query: SELECT id, tenant FROM accounts WHERE id > {{params.min_id}} AND tenant = 'a'\n"
	for _, tc := range []struct{ name, declare, minID, err string }{
		{"undeclared", "", "0--", `invalid input syntax for type integer: "0--"`},
		{"declared", "    parameters: {min_id: int}\n", "0--", `parameter min_id must be an integer (int), got "0--"`},
		{"declared, good", "    parameters: {min_id: int}\n", "0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "    mode: replace\n")
			os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    dsn: ${SHP_TEST_PARAMS_DSN}\n"+query+tc.declare), 0o644)
			proj, err := config.LoadDir(e.dir)
			if err != nil {
				t.Fatal(err)
			}
			e.runner.Project = proj
			res, err := e.runner.Run(ctx, "p", Options{Params: map[string]string{"min_id": tc.minID}})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || res.Status != metadata.StatusFailed {
					t.Fatalf("run: %v (%s), want %q", err, res.Status, tc.err)
				}
				runs, lerr := e.store.ListRuns(ctx, metadata.RunFilter{Pipeline: "p"})
				if lerr != nil || len(runs) != 1 || runs[0].Status != metadata.StatusFailed || !strings.Contains(runs[0].Error, tc.err) {
					t.Fatalf("recorded runs %+v %v", runs, lerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.strings(t, "SELECT id || tenant FROM p ORDER BY id"); strings.Join(got, ",") != "1a,3a" {
				t.Fatalf("target %v, want tenant a's rows", got)
			}
		})
	}
}

// TestRunRefusesAPathParameterThatClimbs: in a file source's path, a
// parameter is one segment; ".." fails the run before anything is read.
func TestRunRefusesAPathParameterThatClimbs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/{{params.folder}}/\n    schema: schema.json\n"), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	os.MkdirAll(filepath.Join(e.dir, "data", "in"), 0o755)
	for folder, want := range map[string]string{
		"..":    `parameter folder is "..", which would climb out of its folder: a parameter in a path must be a single segment (in path of source s)`,
		"in/..": `parameter folder may hold letters, digits and . _ : - only (at most 128), got "in/.."`,
	} {
		res, err := e.runner.Run(ctx, "p", Options{Params: map[string]string{"folder": folder}})
		if err == nil || err.Error() != want || res.RowsIn != 0 {
			t.Errorf("folder %q: %v, want %s", folder, err, want)
		}
	}
}
