package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/warehouse"
)

// stagingWatch is a warehouse that counts what is done with the staging.
type stagingWatch struct {
	warehouse.Warehouse
	setAside, drops int
	commitErr       error
}

func (w *stagingWatch) SetAside(ctx context.Context, runID, pipeline string, objects []*warehouse.Staged) (int64, error) {
	w.setAside++
	return w.Warehouse.SetAside(ctx, runID, pipeline, objects)
}

func (w *stagingWatch) DropStaging(ctx context.Context) error {
	w.drops++
	return w.Warehouse.DropStaging(ctx)
}

func (w *stagingWatch) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	if w.commitErr != nil {
		// The warehouse drops the staging whatever the commit's outcome.
		_ = w.Warehouse.DropStaging(ctx)
		return nil, w.commitErr
	}
	return w.Warehouse.Commit(ctx, spec)
}

// failingHolder cannot tell whether the batch may be committed.
type failingHolder struct{ countingHealer }

func (*failingHolder) HoldCommit(context.Context, HoldRequest) (*HeldError, error) {
	return nil, errors.New("store down")
}

// commitUnrecorded is a store that cannot record a commit's task.
type commitUnrecorded struct{ RunStore }

func (s commitUnrecorded) RecordTask(ctx context.Context, a metadata.TaskAttempt) error {
	if strings.HasPrefix(a.Task, "commit ") {
		return errors.New("store down")
	}
	return s.RunStore.RecordTask(ctx, a)
}

// TestUncommittedRunsKeepWhatStagingSetAside: whichever way a run ends
// before its commit, the rows staging set aside are kept with the run and
// the staging is dropped, once; a commit that fails drops the staging
// itself, and nothing is kept.
func TestUncommittedRunsKeepWhatStagingSetAside(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(e *env, w *stagingWatch)
		want     error  // errors.Is
		text     string // in the error
		kept     bool   // the set-aside rows were kept
		cleanups int    // DropStaging calls after the one before staging
	}{
		{"above the quarantine threshold", func(e *env, _ *stagingWatch) {
			e.runner.Project.Config.Pipelines["p"].MaxQuarantineRatio = 0.1
		}, ErrQuarantineThreshold, "nothing was committed", true, 1},
		{"held for a person", func(e *env, _ *stagingWatch) { e.runner.Healer = &holdingHealer{} }, ErrHeld, "nothing was committed", true, 1},
		{"the hold check fails", func(e *env, _ *stagingWatch) { e.runner.Healer = &failingHolder{} }, nil, "hold check: store down", true, 1},
		{"the commit's task is not recorded", func(e *env, _ *stagingWatch) {
			e.runner.Store = commitUnrecorded{e.runner.Store}
		}, nil, "store down", true, 1},
		{"the commit fails", func(_ *env, w *stagingWatch) { w.commitErr = errors.New("disk full") }, nil, "disk full", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "    mode: append\n")
			w := &stagingWatch{Warehouse: e.runner.Warehouse}
			e.runner.Warehouse = w
			tc.setup(e, w)
			res, err := e.runner.Run(context.Background(), "p", Options{})
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v (%s)", err, tc.want, tc.text)
			}
			if res.Committed || !res.InvariantOK || res.Loaded != 0 {
				t.Fatalf("an uncommitted run: %+v", res)
			}
			if kept := w.setAside == 1 && res.SetAside == 2; kept != tc.kept || w.drops != 1+tc.cleanups {
				t.Fatalf("kept %d rows in %d calls (want kept: %v), dropped the staging %d times (want %d)",
					res.SetAside, w.setAside, tc.kept, w.drops, 1+tc.cleanups)
			}
		})
	}
}
