package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestPhaseClockCountsTheInnermostStage(t *testing.T) {
	now := time.Unix(0, 0)
	tick := func(d time.Duration) { now = now.Add(d) }
	c := newPhaseClock(func() time.Time { return now })
	endValidate := c.enter(StageValidate)
	tick(2 * time.Second)
	endHeal := c.enter(StageHeal)
	tick(5 * time.Second)
	endHeal()
	endHeal() // a second end changes nothing
	tick(1 * time.Second)
	endValidate()
	tick(time.Hour) // between stages: nobody's
	endCommit := c.enter(StageCommit)
	tick(3 * time.Second)
	inner := c.enter(StageHeal)
	endCommit() // the outer stage ends first
	tick(time.Second)
	inner() // already ended with its parent
	got := c.snapshot()
	want := map[string]time.Duration{StageValidate: 3 * time.Second, StageHeal: 5 * time.Second, StageCommit: 3 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestRunIsTracedStageByStage(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	rec := tracetest.NewSpanRecorder()
	e.runner.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var finished *Result
	e.runner.Finished = func(_ context.Context, res *Result) { finished = res }
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if finished != res {
		t.Fatalf("Finished heard of %v, want the run's result", finished)
	}
	if res.SourceType != "file" || len(res.TraceID) != 32 {
		t.Errorf("source type %q, trace id %q", res.SourceType, res.TraceID)
	}
	spans := rec.Ended()
	byName := map[string]int{}
	objects := map[string]bool{}
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		byName[s.Name()]++
		if s.SpanContext().TraceID().String() != res.TraceID {
			t.Errorf("span %s is in trace %s, not the run's", s.Name(), s.SpanContext().TraceID())
		}
		if s.Name() == "run p" {
			root = s
		}
		for _, a := range s.Attributes() {
			if a.Key == "shp.object" && s.Name() == StageStage {
				objects[a.Value.AsString()] = true
			}
		}
	}
	if root == nil || root.Parent().IsValid() {
		t.Fatalf("no root span for the run: %v", byName)
	}
	if byName[StageStage] != 5 || len(objects) != 5 || !objects["e.parquet"] {
		t.Errorf("stage spans %d for objects %v, want one per object of 5", byName[StageStage], objects)
	}
	for _, s := range []string{StageExtract, StageValidate, StageHeal, StageCommit} {
		if byName[s] == 0 {
			t.Errorf("no %s span: %v", s, byName)
		}
	}
	var sum time.Duration
	for _, s := range Stages {
		sum += res.Stages[s]
	}
	if res.Stages[StageStage] <= 0 || res.Stages[StageCommit] <= 0 || sum > res.Duration+time.Millisecond {
		t.Errorf("stage times %v add up to %v for a run of %v", res.Stages, sum, res.Duration)
	}
}

func TestFailedRunMarksItsSpan(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	rec := tracetest.NewSpanRecorder()
	e.runner.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	e.runner.OpenSource = nil
	e.runner.Project.Sources["s"].Path = "nowhere/"
	_, err := e.runner.Run(context.Background(), "p", Options{})
	if err == nil {
		t.Fatal("a run of a missing folder succeeded")
	}
	for _, s := range rec.Ended() {
		if s.Name() == "run p" {
			if s.Status().Code.String() != "Error" || !strings.Contains(s.Status().Description, "nowhere") {
				t.Errorf("run span status %v %q", s.Status().Code, s.Status().Description)
			}
			return
		}
	}
	t.Fatal(errors.New("no run span"))
}
