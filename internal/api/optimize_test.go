package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/warehouse"
)

// sortingWarehouse takes layout changes and records them.
type sortingWarehouse struct {
	warehouse.Warehouse
	applied, reverted int
}

func (w *sortingWarehouse) Describe(context.Context, string) (optimize.Table, error) {
	return optimize.Table{}, nil
}

func (w *sortingWarehouse) Trial(context.Context, string, optimize.Change, []string) ([]optimize.Timing, error) {
	return nil, nil
}

func (w *sortingWarehouse) Apply(context.Context, string, optimize.Change) (string, error) {
	w.applied++
	return "undo", nil
}

func (w *sortingWarehouse) Revert(context.Context, string, string) error {
	w.reverted++
	return nil
}

func TestOptimizationEndpoints(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	viewer, op := e.keys[service.Viewer], e.keys[service.Operator]
	st := e.store.(interface {
		AddOptimization(ctx context.Context, o metadata.Optimization) (int64, error)
	})
	id, err := st.AddOptimization(context.Background(), metadata.Optimization{CreatedAt: time.Now(), Table: "orders", Rule: "cluster",
		Change: `{"kind":"sort","columns":["region"]}`, Detail: `{"recommendation":{"evidence":["80% of 20 queries filter region by equality"],"benefit":"b","risk":"r"}}`,
		Status: "proposed", Reason: "untried"})
	must(t, err)

	code, _, body := e.do("GET", "/api/v1/optimization/recommendations", viewer, nil)
	var page service.Page[service.OptimizationView]
	if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Items) != 1 || page.Items[0].Change.Kind != "sort" ||
		page.Items[0].Evidence[0] == "" {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _, body := e.do("GET", "/api/v1/optimization/recommendations?table=other", viewer, nil); code != 200 || string(body) != "{\"items\":[]}\n" {
		t.Errorf("list of another table: %d %s", code, body)
	}
	want := func(code int, typ, method, path, key string, body any) {
		t.Helper()
		c, h, b := e.do(method, path, key, body)
		e.problem(c, h, b, code, typ)
	}
	path := "/api/v1/optimization/recommendations/1/apply"
	want(403, ProblemForbidden, "POST", path, viewer, nil)
	// No warehouse open here: the change cannot be made.
	want(503, ProblemUnavailable, "POST", path, op, nil)

	wh := &sortingWarehouse{}
	e.api.Service.Warehouse = wh
	want(400, ProblemInvalid, "POST", "/api/v1/optimization/recommendations/x/apply", op, nil)
	want(404, ProblemNotFound, "POST", "/api/v1/optimization/recommendations/99/apply", op, nil)
	code, _, body = e.do("POST", path, op, `{"reason": "the trial showed 6x"}`)
	var v service.OptimizationView
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Status != "applied" || v.Reason != "the trial showed 6x" || wh.applied != 1 || v.ID != id {
		t.Fatalf("apply: %d %s", code, body)
	}
	want(409, ProblemConflict, "POST", path, op, nil)
	revert := "/api/v1/optimization/recommendations/1/revert"
	want(400, ProblemInvalid, "POST", revert, op, `{"reason": ""}`)
	code, _, body = e.do("POST", revert, op, `{"reason": "slower loads"}`)
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Status != "reverted" || wh.reverted != 1 {
		t.Fatalf("revert: %d %s", code, body)
	}
}
