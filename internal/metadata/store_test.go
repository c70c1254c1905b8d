package metadata

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/testutil"
)

// backend makes stores of one kind for tests.
type backend struct {
	kind string
	// target returns the target of a new, empty store.
	target func(t *testing.T) string
}

// backends are the kinds of store every behavioural test runs against.
var backends = []backend{
	{KindSQLite, func(t *testing.T) string { return filepath.Join(t.TempDir(), "nested", "dir", "metadata.db") }},
	{KindPostgres, func(t *testing.T) string { return testutil.PostgresDSN(t) }},
}

// open opens the store at target and closes it when the test ends.
func (b backend) open(t *testing.T, target string) Store {
	t.Helper()
	s, err := Open(context.Background(), b.kind, target)
	if err != nil {
		t.Fatalf("Open(%s): %v", b.kind, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// forEachBackend runs test against a new store of every kind.
func forEachBackend(t *testing.T, test func(t *testing.T, s Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			test(t, b.open(t, b.target(t)))
		})
	}
}

// ts returns a UTC time at microsecond precision, as the stores keep it.
func ts(sec int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC).Add(time.Duration(sec) * time.Second)
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPipelines(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if got, err := s.ListPipelines(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListPipelines on an empty store = %v, %v", got, err)
		}
		b := Pipeline{Name: "b", Source: "src", Target: "tb", Mode: "append", Schedule: "@daily", UpdatedAt: ts(0)}
		a := Pipeline{Name: "a", Source: "s2", Target: "ta", Mode: "merge", Schedule: "", UpdatedAt: ts(1)}
		mustNil(t, s.UpsertPipeline(ctx, b))
		mustNil(t, s.UpsertPipeline(ctx, a))
		b2 := Pipeline{Name: "b", Source: "src2", Target: "tb2", Mode: "replace", Schedule: "@hourly", UpdatedAt: ts(2)}
		mustNil(t, s.UpsertPipeline(ctx, b2))
		got, err := s.ListPipelines(ctx)
		mustNil(t, err)
		if want := []Pipeline{a, b2}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListPipelines = %+v, want %+v", got, want)
		}

		before := time.Now().Add(-time.Second)
		mustNil(t, s.UpsertPipeline(ctx, Pipeline{Name: "c"}))
		got, err = s.ListPipelines(ctx)
		mustNil(t, err)
		if len(got) != 3 || got[2].UpdatedAt.Before(before) || got[2].UpdatedAt.After(time.Now()) {
			t.Errorf("a zero UpdatedAt was not stored as now: %+v", got)
		}
		if err := s.UpsertPipeline(ctx, Pipeline{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpsertPipeline without a name: %v, want ErrInvalid", err)
		}
	})
}

func TestRunLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		run := Run{ID: "r1", Pipeline: "p", Status: StatusRunning, StartedAt: ts(0), FullRefresh: true,
			LogicalDate: ts(-3600), Trigger: "scheduled", Attempt: 2}
		mustNil(t, s.CreateRun(ctx, run))
		got, err := s.GetRun(ctx, "r1")
		mustNil(t, err)
		if !reflect.DeepEqual(got, run) {
			t.Errorf("GetRun after CreateRun = %+v, want %+v", got, run)
		}
		if !got.EndedAt.IsZero() {
			t.Errorf("EndedAt of a running run = %v, want zero", got.EndedAt)
		}

		done := run
		done.Status, done.EndedAt = StatusFailed, ts(60)
		done.RowsIn, done.RowsLoaded, done.RowsQuarantined, done.RowsDeduplicated = 100, 90, 7, 3
		done.Objects, done.Bytes = 4, 1<<40
		done.InvariantOK = true
		done.Error = "boom: it's \"quoted\" ünïcode"
		done.Metrics = map[string]float64{"null_rate:email": 0.25, "quality_score": 98.5}
		mustNil(t, s.FinishRun(ctx, done))
		got, err = s.GetRun(ctx, "r1")
		mustNil(t, err)
		if !reflect.DeepEqual(got, done) {
			t.Errorf("GetRun after FinishRun = %+v, want %+v", got, done)
		}

		// FinishRun changes neither the start, the pipeline nor full_refresh.
		other := done
		other.Pipeline, other.StartedAt, other.FullRefresh, other.Status = "q", ts(-100), false, StatusSucceeded
		mustNil(t, s.FinishRun(ctx, other))
		got, err = s.GetRun(ctx, "r1")
		mustNil(t, err)
		want := done
		want.Status = StatusSucceeded
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetRun after a second FinishRun = %+v, want %+v", got, want)
		}

		mustNil(t, s.CreateRun(ctx, Run{ID: "r2", Pipeline: "p"}))
		got, err = s.GetRun(ctx, "r2")
		mustNil(t, err)
		if got.Status != StatusRunning || !got.StartedAt.IsZero() {
			t.Errorf("run created without status or start = %+v, want running, zero start", got)
		}
	})
}

func TestRunErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		mustNil(t, s.CreateRun(ctx, Run{ID: "r1", Pipeline: "p", StartedAt: ts(0)}))
		for _, tc := range []struct {
			name string
			err  error
			want error
		}{
			{"create existing", s.CreateRun(ctx, Run{ID: "r1", Pipeline: "other"}), ErrExists},
			{"create without ID", s.CreateRun(ctx, Run{Pipeline: "p"}), ErrInvalid},
			{"create without pipeline", s.CreateRun(ctx, Run{ID: "x"}), ErrInvalid},
			{"finish missing", s.FinishRun(ctx, Run{ID: "nope", Status: StatusFailed}), ErrNotFound},
			{"get missing", func() error { _, err := s.GetRun(ctx, "nope"); return err }(), ErrNotFound},
			{"negative limit", func() error { _, err := s.ListRuns(ctx, RunFilter{Limit: -1}); return err }(), ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if !errors.Is(tc.err, tc.want) {
					t.Errorf("error %v, want %v", tc.err, tc.want)
				}
			})
		}
		got, err := s.GetRun(ctx, "r1")
		mustNil(t, err)
		if got.Pipeline != "p" {
			t.Errorf("creating an existing run changed it: %+v", got)
		}
		_, err = s.GetRun(ctx, "nope")
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("GetRun error %v does not name the run", err)
		}
	})
}

func TestListRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, r := range []Run{
			{ID: "a1", Pipeline: "a", Status: StatusSucceeded, StartedAt: ts(10)},
			{ID: "a2", Pipeline: "a", Status: StatusFailed, StartedAt: ts(20)},
			{ID: "a3", Pipeline: "a", Status: StatusRunning, StartedAt: ts(30)},
			{ID: "b1", Pipeline: "b", Status: StatusSucceeded, StartedAt: ts(15)},
			{ID: "b2", Pipeline: "b", Status: StatusSucceeded, StartedAt: ts(15)}, // same start: by ID, descending
			{ID: "b3", Pipeline: "b", Status: StatusSucceeded},                    // no start: last
			{ID: "c1", Pipeline: "c", Status: StatusFailed, StartedAt: ts(-5)},
		} {
			mustNil(t, s.CreateRun(ctx, r))
		}
		for _, tc := range []struct {
			name string
			f    RunFilter
			want []string
		}{
			{"all", RunFilter{}, []string{"a3", "a2", "b2", "b1", "a1", "c1", "b3"}},
			{"limit", RunFilter{Limit: 3}, []string{"a3", "a2", "b2"}},
			{"limit over count", RunFilter{Limit: 100}, []string{"a3", "a2", "b2", "b1", "a1", "c1", "b3"}},
			{"pipeline", RunFilter{Pipeline: "b"}, []string{"b2", "b1", "b3"}},
			{"status", RunFilter{Status: StatusFailed}, []string{"a2", "c1"}},
			{"pipeline and status", RunFilter{Pipeline: "a", Status: StatusSucceeded}, []string{"a1"}},
			{"pipeline, status and limit", RunFilter{Pipeline: "b", Status: StatusSucceeded, Limit: 1}, []string{"b2"}},
			{"no match", RunFilter{Pipeline: "zzz"}, nil},
			{"since and until", RunFilter{Since: ts(10), Until: ts(30)}, []string{"a2", "b2", "b1", "a1"}},
			{"after a run", RunFilter{After: &RunCursor{StartedAt: ts(15), ID: "b2"}, Limit: 3}, []string{"b1", "a1", "c1"}},
			{"after the last started run", RunFilter{After: &RunCursor{StartedAt: ts(-5), ID: "c1"}}, []string{"b3"}},
			{"after a run without a start", RunFilter{After: &RunCursor{ID: "b3"}}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				runs, err := s.ListRuns(ctx, tc.f)
				mustNil(t, err)
				var ids []string
				for _, r := range runs {
					ids = append(ids, r.ID)
				}
				if !reflect.DeepEqual(ids, tc.want) {
					t.Errorf("ListRuns(%+v) = %v, want %v", tc.f, ids, tc.want)
				}
			})
		}
		runs, err := s.ListRuns(ctx, RunFilter{Pipeline: "a", Limit: 1})
		mustNil(t, err)
		if want := (Run{ID: "a3", Pipeline: "a", Status: StatusRunning, StartedAt: ts(30), Trigger: "manual", Attempt: 1}); len(runs) != 1 || !reflect.DeepEqual(runs[0], want) {
			t.Errorf("ListRuns returned %+v, want %+v", runs, want)
		}
	})
}

func TestTasks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		mustNil(t, s.CreateRun(ctx, Run{ID: "r1", Pipeline: "p", StartedAt: ts(0)}))
		mustNil(t, s.CreateRun(ctx, Run{ID: "r2", Pipeline: "p", StartedAt: ts(1)}))
		load1 := TaskAttempt{RunID: "r1", Task: "load", Attempt: 1, Status: StatusRunning, StartedAt: ts(5)}
		mustNil(t, s.RecordTask(ctx, load1))
		load1.Status, load1.EndedAt, load1.Error = StatusFailed, ts(6), "timeout"
		load1.RowsIn, load1.RowsLoaded, load1.RowsQuarantined, load1.RowsDeduplicated = 10, 5, 3, 2
		load1.Detail = `{"objects":["a.csv"],"n":1}`
		mustNil(t, s.RecordTask(ctx, load1)) // update in place
		load2 := TaskAttempt{RunID: "r1", Task: "load", Attempt: 2, Status: StatusSucceeded, StartedAt: ts(7), EndedAt: ts(9), RowsIn: 10, RowsLoaded: 10}
		list := TaskAttempt{RunID: "r1", Task: "list", Attempt: 1, Status: StatusSucceeded, StartedAt: ts(1), EndedAt: ts(2)}
		pending := TaskAttempt{RunID: "r1", Task: "commit", Attempt: 1, Status: "pending"}
		other := TaskAttempt{RunID: "r2", Task: "load", Attempt: 1, Status: StatusRunning, StartedAt: ts(3)}
		for _, a := range []TaskAttempt{load2, pending, list, other} {
			mustNil(t, s.RecordTask(ctx, a))
		}
		got, err := s.ListTasks(ctx, "r1")
		mustNil(t, err)
		if want := []TaskAttempt{list, load1, load2, pending}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListTasks(r1) =\n%+v\nwant\n%+v", got, want)
		}
		got, err = s.ListTasks(ctx, "r2")
		mustNil(t, err)
		if want := []TaskAttempt{other}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListTasks(r2) = %+v, want %+v", got, want)
		}
		got, err = s.ListTasks(ctx, "nope")
		if err != nil || len(got) != 0 {
			t.Errorf("ListTasks(nope) = %+v, %v; want nothing", got, err)
		}

		for _, tc := range []struct {
			name string
			a    TaskAttempt
			want error
		}{
			{"missing run", TaskAttempt{RunID: "nope", Task: "load", Attempt: 1, Status: StatusRunning}, ErrNotFound},
			{"no run ID", TaskAttempt{Task: "load"}, ErrInvalid},
			{"no task", TaskAttempt{RunID: "r1"}, ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.RecordTask(ctx, tc.a); !errors.Is(err, tc.want) {
					t.Errorf("RecordTask(%+v) = %v, want %v", tc.a, err, tc.want)
				}
			})
		}
	})
}

func TestObjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		a := ObjectFile{ObjectRef: ObjectRef{Key: "in/a.csv", Fingerprint: "10-1"}, Size: 10, RunID: "r0", ProcessedAt: ts(1), RowsIn: 5, RowsLoaded: 4, RowsQuarantined: 1}
		b := ObjectFile{ObjectRef: ObjectRef{Key: "in/b.csv", Fingerprint: "20-1"}, Size: 20, ProcessedAt: ts(2), RowsIn: 7, RowsLoaded: 7}

		processed := func(pipeline string, ref ObjectRef) bool {
			t.Helper()
			ok, err := s.ObjectProcessed(ctx, pipeline, ref)
			mustNil(t, err)
			return ok
		}
		if processed("p", a.ObjectRef) {
			t.Error("an object is processed before it was marked")
		}
		mustNil(t, s.MarkObjects(ctx, "p", "r1", []ObjectFile{b, a}))
		mustNil(t, s.MarkObjects(ctx, "p", "r1", nil)) // nothing to mark
		bWant := b
		bWant.RunID = "r1" // an object without a run is the call's run's
		for _, tc := range []struct {
			name     string
			pipeline string
			ref      ObjectRef
			want     bool
		}{
			{"a", "p", a.ObjectRef, true},
			{"b", "p", b.ObjectRef, true},
			{"another fingerprint", "p", ObjectRef{Key: "in/a.csv", Fingerprint: "10-2"}, false},
			{"another key", "p", ObjectRef{Key: "in/c.csv", Fingerprint: "10-1"}, false},
			{"another pipeline", "q", a.ObjectRef, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := processed(tc.pipeline, tc.ref); got != tc.want {
					t.Errorf("ObjectProcessed(%s, %+v) = %v, want %v", tc.pipeline, tc.ref, got, tc.want)
				}
			})
		}
		got, err := s.ListObjects(ctx, "p")
		mustNil(t, err)
		if want := []ObjectFile{a, bWant}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListObjects = %+v, want %+v", got, want)
		}

		// Marking again is not an error, and the latest marking wins.
		a2 := a
		a2.RunID, a2.ProcessedAt, a2.RowsLoaded = "r2", ts(3), 5
		mustNil(t, s.MarkObjects(ctx, "p", "r2", []ObjectFile{a2}))
		mustNil(t, s.MarkObjects(ctx, "p", "r2", []ObjectFile{a2}))
		got, err = s.ListObjects(ctx, "p")
		mustNil(t, err)
		if want := []ObjectFile{a2, bWant}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListObjects after marking again = %+v, want %+v", got, want)
		}

		// A new version of an object is another object; a zero
		// ProcessedAt is now.
		before := time.Now().Add(-time.Second)
		a3 := ObjectFile{ObjectRef: ObjectRef{Key: "in/a.csv", Fingerprint: "11-2"}, Size: 11}
		mustNil(t, s.MarkObjects(ctx, "p", "r3", []ObjectFile{a3}))
		mustNil(t, s.MarkObjects(ctx, "q", "r3", []ObjectFile{a}))
		got, err = s.ListObjects(ctx, "p")
		mustNil(t, err)
		if len(got) != 3 || got[1].Fingerprint != "11-2" || got[1].RunID != "r3" ||
			got[1].ProcessedAt.Before(before) || got[1].ProcessedAt.After(time.Now()) {
			t.Errorf("ListObjects after a new version = %+v", got)
		}

		mustNil(t, s.ForgetObjects(ctx, "p"))
		if got, err := s.ListObjects(ctx, "p"); err != nil || len(got) != 0 {
			t.Errorf("ListObjects after ForgetObjects = %+v, %v; want none", got, err)
		}
		if processed("p", a.ObjectRef) {
			t.Error("a forgotten object is still processed")
		}
		if !processed("q", a.ObjectRef) {
			t.Error("ForgetObjects forgot another pipeline's object")
		}
		mustNil(t, s.ForgetObjects(ctx, "never"))

		for _, tc := range []struct {
			name     string
			pipeline string
			objs     []ObjectFile
		}{
			{"no pipeline", "", []ObjectFile{a}},
			{"no key", "p", []ObjectFile{a, {ObjectRef: ObjectRef{Fingerprint: "x"}}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.MarkObjects(ctx, tc.pipeline, "r", tc.objs); !errors.Is(err, ErrInvalid) {
					t.Errorf("MarkObjects = %v, want ErrInvalid", err)
				}
			})
		}
		if got, err := s.ListObjects(ctx, "p"); err != nil || len(got) != 0 {
			t.Errorf("a rejected MarkObjects marked %+v, %v", got, err)
		}
	})
}

// TestMarkObjectsAtomic makes the database refuse the third object of a
// batch and checks that none of the batch is marked.
func TestMarkObjectsAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		ss := s.(*sqlStore)
		ddl := []string{`CREATE TRIGGER refuse_bad BEFORE INSERT ON objects WHEN NEW.object_key = 'bad'
BEGIN SELECT RAISE(ABORT, 'bad object'); END`}
		if ss.d.name == "postgres" {
			ddl = []string{
				`CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.object_key = 'bad' THEN RAISE EXCEPTION 'bad object'; END IF; RETURN NEW; END $$`,
				`CREATE TRIGGER refuse_bad BEFORE INSERT ON objects FOR EACH ROW EXECUTE FUNCTION refuse_bad()`,
			}
		}
		for _, q := range ddl {
			if _, err := ss.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		objs := []ObjectFile{
			{ObjectRef: ObjectRef{Key: "good1", Fingerprint: "1"}},
			{ObjectRef: ObjectRef{Key: "good2", Fingerprint: "1"}},
			{ObjectRef: ObjectRef{Key: "bad", Fingerprint: "1"}},
		}
		err := s.MarkObjects(ctx, "p", "r", objs)
		if err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), "bad object") {
			t.Fatalf("MarkObjects with a refused object = %v, want an error naming it", err)
		}
		if got, err := s.ListObjects(ctx, "p"); err != nil || len(got) != 0 {
			t.Errorf("a failed MarkObjects marked %+v, %v; want nothing", got, err)
		}
		mustNil(t, s.MarkObjects(ctx, "p", "r", objs[:2]))
		if got, err := s.ListObjects(ctx, "p"); err != nil || len(got) != 2 {
			t.Errorf("ListObjects = %+v, %v; want 2 objects", got, err)
		}
	})
}

func TestWatermarks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		get := func(pipeline, key string) (string, bool) {
			t.Helper()
			v, ok, err := s.GetWatermark(ctx, pipeline, key)
			mustNil(t, err)
			return v, ok
		}
		if v, ok := get("p", "updated_at"); ok || v != "" {
			t.Errorf("unset watermark = %q, %v", v, ok)
		}
		mustNil(t, s.SetWatermark(ctx, "p", "updated_at", "2025-01-01T00:00:00Z"))
		mustNil(t, s.SetWatermark(ctx, "p", "id", ""))
		mustNil(t, s.SetWatermark(ctx, "q", "updated_at", "q-value"))
		mustNil(t, s.SetWatermark(ctx, "p", "updated_at", "2025-02-01T00:00:00Z"))
		for _, tc := range []struct {
			pipeline, key, want string
			ok                  bool
		}{
			{"p", "updated_at", "2025-02-01T00:00:00Z", true},
			{"p", "id", "", true},
			{"q", "updated_at", "q-value", true},
			{"q", "id", "", false},
			{"r", "updated_at", "", false},
		} {
			t.Run(tc.pipeline+"/"+tc.key, func(t *testing.T) {
				if v, ok := get(tc.pipeline, tc.key); v != tc.want || ok != tc.ok {
					t.Errorf("GetWatermark(%s, %s) = %q, %v; want %q, %v", tc.pipeline, tc.key, v, ok, tc.want, tc.ok)
				}
			})
		}
		for _, tc := range []struct{ pipeline, key string }{{"", "k"}, {"p", ""}} {
			if err := s.SetWatermark(ctx, tc.pipeline, tc.key, "v"); !errors.Is(err, ErrInvalid) {
				t.Errorf("SetWatermark(%q, %q) = %v, want ErrInvalid", tc.pipeline, tc.key, err)
			}
		}
	})
}

func TestTimeRoundTrip(t *testing.T) {
	india := time.FixedZone("IST", 5*3600+1800)
	now := time.Now() // with a monotonic clock reading
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for i, tc := range []struct {
			name    string
			in      time.Time
			want    time.Time
			wantZer bool
		}{
			{"zero", time.Time{}, time.Time{}, true},
			{"nanoseconds truncated", time.Date(2024, 2, 29, 13, 14, 15, 123456789, india), time.Date(2024, 2, 29, 7, 44, 15, 123456000, time.UTC), false},
			{"microseconds kept", time.Date(2025, 1, 2, 3, 4, 5, 999999000, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 999999000, time.UTC), false},
			{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 999999000, time.UTC), false},
			{"epoch", time.Unix(0, 0), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), false},
			{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), false},
			{"year one", time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), false},
			{"now", now, now.UTC().Truncate(time.Microsecond), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				check := func(what string, got time.Time) {
					t.Helper()
					if got != tc.want || got.Location() != time.UTC || got.IsZero() != tc.wantZer {
						t.Errorf("%s = %v (%v), want %v UTC", what, got, got.Location(), tc.want)
					}
				}
				id := fmt.Sprintf("run-%d", i)
				mustNil(t, s.CreateRun(ctx, Run{ID: id, Pipeline: "p", StartedAt: tc.in}))
				mustNil(t, s.FinishRun(ctx, Run{ID: id, Status: StatusSucceeded, EndedAt: tc.in}))
				r, err := s.GetRun(ctx, id)
				mustNil(t, err)
				check("Run.StartedAt", r.StartedAt)
				check("Run.EndedAt", r.EndedAt)

				mustNil(t, s.RecordTask(ctx, TaskAttempt{RunID: id, Task: "t", Attempt: 1, StartedAt: tc.in, EndedAt: tc.in}))
				tasks, err := s.ListTasks(ctx, id)
				mustNil(t, err)
				check("TaskAttempt.StartedAt", tasks[0].StartedAt)
				check("TaskAttempt.EndedAt", tasks[0].EndedAt)

				if !tc.in.IsZero() { // a zero time means now for these
					name := fmt.Sprintf("p%d", i)
					mustNil(t, s.UpsertPipeline(ctx, Pipeline{Name: name, UpdatedAt: tc.in}))
					ps, err := s.ListPipelines(ctx)
					mustNil(t, err)
					for _, p := range ps {
						if p.Name == name {
							check("Pipeline.UpdatedAt", p.UpdatedAt)
						}
					}
					mustNil(t, s.MarkObjects(ctx, name, id, []ObjectFile{{ObjectRef: ObjectRef{Key: "k"}, ProcessedAt: tc.in}}))
					objs, err := s.ListObjects(ctx, name)
					mustNil(t, err)
					check("ObjectFile.ProcessedAt", objs[0].ProcessedAt)
				}
			})
		}
	})
}

func TestConcurrentCreateRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*(each+1))
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- s.CreateRun(ctx, Run{ID: fmt.Sprintf("w%d-%d", w, i), Pipeline: "p", StartedAt: ts(w*each + i)})
				}
				// Every worker also tries to create the same run.
				errs <- s.CreateRun(ctx, Run{ID: "shared", Pipeline: "p", StartedAt: ts(-1)})
			}()
		}
		wg.Wait()
		close(errs)
		var exists int
		for err := range errs {
			switch {
			case errors.Is(err, ErrExists):
				exists++
			case err != nil:
				t.Errorf("CreateRun: %v", err)
			}
		}
		if exists != workers-1 {
			t.Errorf("%d concurrent creations of one run failed with ErrExists, want %d", exists, workers-1)
		}
		runs, err := s.ListRuns(ctx, RunFilter{Pipeline: "p"})
		mustNil(t, err)
		if len(runs) != workers*each+1 {
			t.Errorf("ListRuns has %d runs, want %d", len(runs), workers*each+1)
		}
		for i := 1; i < len(runs); i++ {
			if runs[i].StartedAt.After(runs[i-1].StartedAt) {
				t.Errorf("runs %s and %s are not newest first", runs[i-1].ID, runs[i].ID)
			}
		}
	})
}

// TestClosedStore checks that every method fails, naming what it did, once
// the store is closed.
func TestClosedStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.kind, b.target(t))
			mustNil(t, err)
			mustNil(t, s.Close())
			obj := []ObjectFile{{ObjectRef: ObjectRef{Key: "k"}}}
			for _, tc := range []struct {
				name, want string
				err        error
			}{
				{"UpsertPipeline", `upsert pipeline "p"`, s.UpsertPipeline(ctx, Pipeline{Name: "p"})},
				{"ListPipelines", "list pipelines", second(s.ListPipelines(ctx))},
				{"CreateRun", "create run r", s.CreateRun(ctx, Run{ID: "r", Pipeline: "p"})},
				{"FinishRun", "finish run r", s.FinishRun(ctx, Run{ID: "r"})},
				{"GetRun", "get run r", second(s.GetRun(ctx, "r"))},
				{"ListRuns", "list runs", second(s.ListRuns(ctx, RunFilter{}))},
				{"RecordTask", "record task t attempt 1 of run r", s.RecordTask(ctx, TaskAttempt{RunID: "r", Task: "t", Attempt: 1})},
				{"ListTasks", "list tasks of run r", second(s.ListTasks(ctx, "r"))},
				{"ObjectProcessed", `look up object "k" of pipeline "p"`, second(s.ObjectProcessed(ctx, "p", ObjectRef{Key: "k"}))},
				{"MarkObjects", `mark 1 objects of pipeline "p" processed`, s.MarkObjects(ctx, "p", "r", obj)},
				{"ListObjects", `list objects of pipeline "p"`, second(s.ListObjects(ctx, "p"))},
				{"ForgetObjects", `forget objects of pipeline "p"`, s.ForgetObjects(ctx, "p")},
				{"GetWatermark", `get watermark "k" of pipeline "p"`, third(s.GetWatermark(ctx, "p", "k"))},
				{"SetWatermark", `set watermark "k" of pipeline "p"`, s.SetWatermark(ctx, "p", "k", "v")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
						t.Errorf("%s on a closed store = %v, want an error saying %q", tc.name, tc.err, tc.want)
					}
				})
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

func TestLineageEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		mustNil(t, s.RecordLineage(ctx, LineageEvent{RunID: "r1", Job: "sales", EventType: "START", EventTime: ts(1), Payload: `{"a":1}`}))
		mustNil(t, s.RecordLineage(ctx, LineageEvent{RunID: "r1", Job: "sales", EventType: "COMPLETE", EventTime: ts(2), Payload: `{"a":2}`}))
		mustNil(t, s.RecordLineage(ctx, LineageEvent{RunID: "r2", Job: "other", EventType: "FAIL", EventTime: ts(3), Payload: `{}`}))
		all, err := s.ListLineage(ctx, "", 0)
		mustNil(t, err)
		if len(all) != 3 || all[0].EventType != "FAIL" || !all[2].EventTime.Equal(ts(1)) {
			t.Fatalf("all events %+v", all)
		}
		sales, err := s.ListLineage(ctx, "sales", 1)
		mustNil(t, err)
		if len(sales) != 1 || sales[0].EventType != "COMPLETE" || sales[0].Payload != `{"a":2}` || sales[0].RunID != "r1" {
			t.Fatalf("latest sales event %+v", sales)
		}
		if err := s.RecordLineage(ctx, LineageEvent{Job: "x"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("invalid event: %v", err)
		}
	})
}

func TestClaimsAndPause(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c := Claim{Pipeline: "p", LogicalDate: ts(0), Owner: "a", Trigger: "scheduled"}
		ok, err := s.ClaimInterval(ctx, c)
		mustNil(t, err)
		again, err := s.ClaimInterval(ctx, Claim{Pipeline: "p", LogicalDate: ts(0), Owner: "b", Trigger: "scheduled"})
		mustNil(t, err)
		if !ok || again {
			t.Fatalf("claims: first %v, second %v", ok, again)
		}
		got, found, err := s.GetClaim(ctx, "p", ts(0))
		mustNil(t, err)
		if !found || got.Owner != "a" || got.Status != "queued" || got.ClaimedAt.IsZero() {
			t.Fatalf("claim %+v", got)
		}
		got.Status, got.RunID = "succeeded", "r1"
		mustNil(t, s.UpdateClaim(ctx, got))
		_, err = s.ClaimInterval(ctx, Claim{Pipeline: "p", LogicalDate: ts(60), Owner: "a", Trigger: "backfill"})
		mustNil(t, err)
		done, err := s.ListClaims(ctx, "p", "succeeded")
		mustNil(t, err)
		all, err := s.ListClaims(ctx, "")
		mustNil(t, err)
		if len(done) != 1 || done[0].RunID != "r1" || len(all) != 2 || !all[1].LogicalDate.Equal(ts(60)) {
			t.Fatalf("done %+v all %+v", done, all)
		}
		if _, found, _ := s.GetClaim(ctx, "p", ts(1)); found {
			t.Fatal("a claim that was never made")
		}
		if err := s.UpdateClaim(ctx, Claim{Pipeline: "nope", LogicalDate: ts(0)}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		if _, err := s.ClaimInterval(ctx, Claim{Pipeline: "p"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("invalid claim: %v", err)
		}
		paused, err := s.Paused(ctx, "p")
		mustNil(t, err)
		mustNil(t, s.SetPaused(ctx, "p", true))
		now, err := s.Paused(ctx, "p")
		mustNil(t, err)
		mustNil(t, s.SetPaused(ctx, "p", false))
		after, err := s.Paused(ctx, "p")
		mustNil(t, err)
		if paused || !now || after {
			t.Fatalf("paused %v %v %v", paused, now, after)
		}
	})
}

func TestClaimStatusLatestAndPausedList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, c := range []Claim{{Pipeline: "a", LogicalDate: ts(0)}, {Pipeline: "a", LogicalDate: ts(60)}, {Pipeline: "b", LogicalDate: ts(30)}} {
			c.Owner, c.Trigger = "o", "scheduled"
			if _, err := s.ClaimInterval(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		mustNil(t, s.SetClaimStatus(ctx, "a", ts(60), "succeeded"))
		c, _, err := s.GetClaim(ctx, "a", ts(60))
		mustNil(t, err)
		if c.Status != "succeeded" || c.Owner != "o" {
			t.Fatalf("claim %+v", c)
		}
		if err := s.SetClaimStatus(ctx, "zz", ts(0), "failed"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing claim: %v", err)
		}
		latest, err := s.LatestClaims(ctx)
		mustNil(t, err)
		if len(latest) != 2 || !latest["a"].Equal(ts(60)) || !latest["b"].Equal(ts(30)) {
			t.Fatalf("latest %v", latest)
		}
		mustNil(t, s.SetPaused(ctx, "b", true))
		mustNil(t, s.SetPaused(ctx, "a", false))
		paused, err := s.PausedPipelines(ctx)
		mustNil(t, err)
		if len(paused) != 1 || paused[0] != "b" {
			t.Fatalf("paused %v", paused)
		}
	})
}

func TestTakeClaimAndHeartbeat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		_, err := s.ClaimInterval(ctx, Claim{Pipeline: "p", LogicalDate: ts(0), Owner: "dead", Status: "running", Trigger: "scheduled"})
		mustNil(t, err)
		_, err = s.ClaimInterval(ctx, Claim{Pipeline: "p", LogicalDate: ts(7200), Owner: "x", Status: "succeeded", Trigger: "manual"})
		mustNil(t, err)
		seen, _, err := s.GetClaim(ctx, "p", ts(0))
		mustNil(t, err)
		first, err := s.TakeClaim(ctx, seen, "a")
		mustNil(t, err)
		second, err := s.TakeClaim(ctx, seen, "b") // what b saw is stale now
		mustNil(t, err)
		if !first || second {
			t.Fatalf("takes: %v %v", first, second)
		}
		held, err := s.Heartbeat(ctx, "p", ts(0), "a")
		mustNil(t, err)
		notHeld, err := s.Heartbeat(ctx, "p", ts(0), "dead")
		mustNil(t, err)
		if !held || notHeld {
			t.Fatalf("heartbeats: %v %v", held, notHeld)
		}
		// Only the holder's status write counts.
		mustNil(t, s.SetClaimStatuses(ctx, []Claim{{Pipeline: "p", LogicalDate: ts(0), Owner: "dead", Status: "failed"}}))
		c, _, _ := s.GetClaim(ctx, "p", ts(0))
		mustNil(t, s.SetClaimStatuses(ctx, []Claim{{Pipeline: "p", LogicalDate: ts(0), Owner: "a", Status: "succeeded"}}))
		c2, _, _ := s.GetClaim(ctx, "p", ts(0))
		if c.Status != "running" || c2.Status != "succeeded" || c2.Owner != "a" {
			t.Fatalf("statuses %s %s", c.Status, c2.Status)
		}
		// A manual claim does not count as the schedule's latest.
		latest, err := s.LatestClaims(ctx)
		mustNil(t, err)
		if !latest["p"].Equal(ts(0)) {
			t.Fatalf("latest %v", latest)
		}
	})
}

func TestHealingModelsAndExamples(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if _, found, err := s.ActiveModel(ctx); err != nil || found {
			t.Fatalf("no model yet: %v %v", found, err)
		}
		v1, err := s.SaveModel(ctx, HealingModel{Metrics: `{"f1":0.5}`, Model: `{"a":1}`, Active: true})
		mustNil(t, err)
		v2, err := s.SaveModel(ctx, HealingModel{Metrics: `{"f1":0.4}`, Model: `{"a":2}`})
		mustNil(t, err)
		v3, err := s.SaveModel(ctx, HealingModel{Metrics: `{"f1":0.9}`, Model: `{"a":3}`, Active: true})
		mustNil(t, err)
		active, found, err := s.ActiveModel(ctx)
		mustNil(t, err)
		models, err := s.ListModels(ctx)
		mustNil(t, err)
		if v1 != 1 || v2 != 2 || v3 != 3 || !found || active.Version != 3 || active.Model != `{"a":3}` || len(models) != 3 || models[2].Active || models[0].Model != "" {
			t.Fatalf("models %+v active %+v", models, active)
		}
		v2m, err := s.GetModel(ctx, 2)
		mustNil(t, err)
		if v2m.Version != 2 || v2m.Model != `{"a":2}` || v2m.Metrics != `{"f1":0.4}` || v2m.Active {
			t.Fatalf("model v2 %+v", v2m)
		}
		if _, err := s.GetModel(ctx, 9); !errors.Is(err, ErrNotFound) {
			t.Fatalf("model v9: %v", err)
		}
		mustNil(t, s.AddExample(ctx, `{"x":1}`))
		mustNil(t, s.AddExample(ctx, `{"x":2}`))
		exs, err := s.ListExamples(ctx)
		mustNil(t, err)
		if len(exs) != 2 || exs[1] != `{"x":2}` {
			t.Fatalf("examples %v", exs)
		}
	})
}

func TestHealingActions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id1, err := s.RecordAction(ctx, HealingAction{RunID: "r1", Pipeline: "p", Strategy: "normalize", Status: "applied", Confidence: 0.95, RowsAffected: 3})
		mustNil(t, err)
		id2, err := s.RecordAction(ctx, HealingAction{RunID: "r2", Pipeline: "p", Strategy: "dedupe", Status: "proposed"})
		mustNil(t, err)
		all, err := s.ListActions(ctx, ActionFilter{})
		mustNil(t, err)
		proposed, err := s.ListActions(ctx, ActionFilter{Status: "proposed"})
		mustNil(t, err)
		if id2 <= id1 || len(all) != 2 || all[0].ID != id2 || all[1].RowsAffected != 3 || len(proposed) != 1 || proposed[0].RunID != "r2" {
			t.Fatalf("actions %+v proposed %+v", all, proposed)
		}
		if _, err := s.RecordAction(ctx, HealingAction{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("invalid action: %v", err)
		}
		id3, err := s.RecordAction(ctx, HealingAction{RunID: "r3", Pipeline: "p", Strategy: "dedupe", Status: "proposed", Category: "duplicates"})
		mustNil(t, err)
		page, err := s.ListActions(ctx, ActionFilter{BeforeID: id3, Limit: 1})
		mustNil(t, err)
		dups, err := s.ListActions(ctx, ActionFilter{Category: "duplicates"})
		mustNil(t, err)
		if normalize, err := s.ListActions(ctx, ActionFilter{Strategy: "normalize"}); err != nil || len(normalize) != 1 || normalize[0].ID != id1 {
			t.Fatalf("by strategy: %+v %v", normalize, err)
		}
		if len(page) != 1 || page[0].ID != id2 || len(dups) != 1 || dups[0].ID != id3 {
			t.Fatalf("page before #%d: %+v; duplicates: %+v", id3, page, dups)
		}
	})
}

func TestAPIKeysAuditAndRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		k := APIKey{ID: "k1", Name: "ci", Role: "operator", Hash: "abc", CreatedBy: "ana", CreatedAt: ts(0), ExpiresAt: ts(3600)}
		mustNil(t, s.CreateAPIKey(ctx, k))
		mustNil(t, s.CreateAPIKey(ctx, APIKey{ID: "k2", Name: "bi", Role: "viewer", Hash: "def", CreatedAt: ts(10)}))
		if err := s.CreateAPIKey(ctx, APIKey{ID: "k3"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a key without hash: %v", err)
		}
		got, err := s.GetAPIKey(ctx, "k1")
		mustNil(t, err)
		if !reflect.DeepEqual(got, k) {
			t.Fatalf("got %+v, want %+v", got, k)
		}
		mustNil(t, s.TouchAPIKey(ctx, "k1", ts(60)))
		mustNil(t, s.RevokeAPIKey(ctx, "k2", ts(70)))
		mustNil(t, s.RevokeAPIKey(ctx, "k2", ts(80))) // revoked once
		if err := s.RevokeAPIKey(ctx, "nope", ts(80)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke an unknown key: %v", err)
		}
		if _, err := s.GetAPIKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get an unknown key: %v", err)
		}
		keys, err := s.ListAPIKeys(ctx)
		mustNil(t, err)
		if len(keys) != 2 || keys[0].ID != "k2" || !keys[0].Revoked.Equal(ts(70)) || !keys[1].LastUsed.Equal(ts(60)) {
			t.Fatalf("keys %+v", keys)
		}

		mustNil(t, s.RecordAudit(ctx, AuditEntry{At: ts(1), Principal: "key:k1", Role: "operator", Method: "POST", Path: "/api/v1/pipelines/p/run", Status: 202, Remote: "127.0.0.1"}))
		mustNil(t, s.RecordAudit(ctx, AuditEntry{At: ts(2), Principal: "ana", Role: "admin", Method: "POST", Path: "/api/v1/quality/rules", Status: 201}))
		audit, err := s.ListAudit(ctx, 1)
		mustNil(t, err)
		if len(audit) != 1 || audit[0].Principal != "ana" || audit[0].Status != 201 || !audit[0].At.Equal(ts(2)) {
			t.Fatalf("audit %+v", audit)
		}

		ids, err := s.AddQualityRules(ctx, []StoredRule{{Pipeline: "p", Rule: `{"expectation":"expect_column_values_to_not_be_null"}`, CreatedBy: "ana", CreatedAt: ts(5)},
			{Pipeline: "q", Rule: `{}`}})
		mustNil(t, err)
		id := ids[0]
		// All or none: the first rule of a refused batch is not kept.
		if _, err := s.AddQualityRules(ctx, []StoredRule{{Pipeline: "p", Rule: `{}`}, {Pipeline: "p"}}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a rule without a body: %v", err)
		}
		rules, err := s.ListQualityRules(ctx, "p")
		mustNil(t, err)
		all, err := s.ListQualityRules(ctx, "")
		mustNil(t, err)
		if len(rules) != 1 || rules[0].ID != id || rules[0].CreatedBy != "ana" || len(all) != 2 {
			t.Fatalf("rules %+v all %+v", rules, all)
		}
	})
}

func TestDecideAction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id, err := s.RecordAction(ctx, HealingAction{RunID: "r", Pipeline: "p", Strategy: "x", Status: "proposed", Reason: "plan"})
		mustNil(t, err)
		mustNil(t, s.DecideAction(ctx, id, "approved", "ann", "looks right"))
		a, err := s.GetAction(ctx, id)
		mustNil(t, err)
		if a.Status != "approved" || a.ApprovedBy != "ann" || a.Reason != "plan; approved by ann: looks right" {
			t.Fatalf("action %+v", a)
		}
		if err := s.DecideAction(ctx, id, "rejected", "bob", "no"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("deciding twice: %v", err)
		}
		if err := s.DecideAction(ctx, 999, "approved", "ann", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		if err := s.DecideAction(ctx, id, "maybe", "ann", ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
		// A rejection can be approved later, not rejected again.
		id2, err := s.RecordAction(ctx, HealingAction{RunID: "r", Pipeline: "p", Strategy: "x", Status: "proposed", Reason: "plan"})
		mustNil(t, err)
		mustNil(t, s.DecideAction(ctx, id2, "rejected", "bob", "no"))
		if err := s.DecideAction(ctx, id2, "rejected", "bob", "no"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("rejecting twice: %v", err)
		}
		mustNil(t, s.DecideAction(ctx, id2, "approved", "bob", "it was right after all"))
		if a, _ := s.GetAction(ctx, id2); a.Status != "approved" {
			t.Fatalf("approved after a rejection: %+v", a)
		}
	})
}

func TestRevertAction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id, err := s.RecordAction(ctx, HealingAction{RunID: "r", Pipeline: "p", Strategy: "x", Status: "applied", ApprovedBy: "policy", Reason: "fixed"})
		mustNil(t, err)
		mustNil(t, s.RevertAction(ctx, id, "ann", "wrong code"))
		a, err := s.GetAction(ctx, id)
		mustNil(t, err)
		if a.Status != "reverted" || a.ApprovedBy != "policy" || a.Reason != "fixed; reverted by ann: wrong code" {
			t.Fatalf("action %+v", a)
		}
		if err := s.RevertAction(ctx, id, "ann", "again"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("reverting twice: %v", err)
		}
		if err := s.RevertAction(ctx, 999, "ann", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})
}

// TestOneOpenEscalationPerIssue: a repeat of an escalated issue counts
// on its open action; another issue, another pipeline, a non-escalated
// status or an action without a signature each get their own.
func TestOneOpenEscalationPerIssue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		esc := func(run, pipeline, sig string, at int) int64 {
			id, err := s.RecordAction(ctx, HealingAction{RunID: run, Pipeline: pipeline, Strategy: "report_quarantine", Status: "escalated",
				Signature: sig, Issue: "issue of " + run, RowsAffected: int64(at), CreatedAt: ts(at)})
			mustNil(t, err)
			return id
		}
		first := esc("r1", "p", "report_quarantine|cast|day", 10)
		if again := esc("r2", "p", "report_quarantine|cast|day", 20); again != first {
			t.Fatalf("a repeat got a new action %d, want %d", again, first)
		}
		esc("r3", "p", "report_quarantine|cast|day", 30)
		other := esc("r3", "p", "report_quarantine|cast|amount", 30)
		elsewhere := esc("r3", "q", "report_quarantine|cast|day", 30)
		if other == first || elsewhere == first || other == elsewhere {
			t.Fatalf("different issues merged: %d %d %d", first, other, elsewhere)
		}
		a, err := s.GetAction(ctx, first)
		mustNil(t, err)
		if a.Occurrences != 3 || !a.LastSeenAt.Equal(ts(30)) || !a.CreatedAt.Equal(ts(10)) || a.Issue != "issue of r3" || a.RunID != "r1" || a.RowsAffected != 30 {
			t.Fatalf("merged action: %+v", a)
		}
		// Proposals and unsigned actions are never merged.
		p1, err := s.RecordAction(ctx, HealingAction{RunID: "r4", Pipeline: "p", Strategy: "x", Status: "proposed", Signature: "x|s"})
		mustNil(t, err)
		p2, err := s.RecordAction(ctx, HealingAction{RunID: "r5", Pipeline: "p", Strategy: "x", Status: "proposed", Signature: "x|s"})
		mustNil(t, err)
		u1, err := s.RecordAction(ctx, HealingAction{RunID: "r4", Pipeline: "p", Strategy: "y", Status: "escalated"})
		mustNil(t, err)
		u2, err := s.RecordAction(ctx, HealingAction{RunID: "r5", Pipeline: "p", Strategy: "y", Status: "escalated"})
		mustNil(t, err)
		if p1 == p2 || u1 == u2 {
			t.Fatalf("merged what should not be: %d %d %d %d", p1, p2, u1, u2)
		}
		list, err := s.ListActions(ctx, ActionFilter{Pipeline: "p", Strategy: "report_quarantine"})
		mustNil(t, err)
		if len(list) != 2 || list[1].Occurrences != 3 || list[0].Occurrences != 1 || !list[0].LastSeenAt.IsZero() {
			t.Fatalf("listed: %+v", list)
		}
	})
}
