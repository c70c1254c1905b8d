package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/service"
)

// sortingWarehouse is the fake warehouse that also takes layout changes.
type sortingWarehouse struct {
	*fakeWarehouse
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

// TestRecommendationsPanel: the Performance dashboard lists the recorded
// layout changes with their evidence and trial; an operator applies and
// reverts one there, a viewer sees no buttons.
func TestRecommendationsPanel(t *testing.T) {
	e := newEnv(t)
	wh := &sortingWarehouse{fakeWarehouse: e.wh}
	e.ui.Service.Warehouse = wh
	st := e.store.(interface {
		AddOptimization(ctx context.Context, o metadata.Optimization) (int64, error)
	})
	_, err := st.AddOptimization(e.ctx, metadata.Optimization{CreatedAt: time.Now(), Table: "orders", Rule: "cluster",
		Change: `{"kind":"sort","columns":["region"]}`, Status: "proposed",
		Detail: `{"recommendation":{"evidence":["80% of 20 queries filter region by equality"]},"trial":{"timings":[],"speedup":6.1,"slowest":0.3,"accept":true,"why":"the replayed queries ran 6.1x as fast in all"}}`})
	e.must(err)

	page := e.get("/performance", service.Viewer).Body.String()
	for _, s := range []string{"sort by region", "80% of 20 queries filter region by equality", "ran 6.1x as fast"} {
		if !strings.Contains(page, s) {
			t.Errorf("the panel does not say %q", s)
		}
	}
	if strings.Contains(page, `action="/optimization/1/apply"`) {
		t.Error("a viewer sees the Apply button")
	}
	checkHTML(t, "performance", page)
	if !strings.Contains(e.get("/performance", service.Operator).Body.String(), `action="/optimization/1/apply"`) {
		t.Error("an operator sees no Apply button")
	}
	if w := e.post("/optimization/1/apply", service.Viewer, nil); w.Code != http.StatusForbidden || wh.applied != 0 {
		t.Errorf("a viewer's apply: %d", w.Code)
	}
	w := e.post("/optimization/1/apply", service.Operator, nil)
	if w.Code != http.StatusSeeOther || wh.applied != 1 || w.Header().Get("Location") != "/performance?done=apply-optimization&optimization=1" {
		t.Fatalf("apply: %d %v", w.Code, w.Header())
	}
	if body := e.get(w.Header().Get("Location"), service.Operator).Body.String(); !strings.Contains(body, "Optimization #1 applied.") ||
		!strings.Contains(body, `action="/optimization/1/revert"`) {
		t.Errorf("after applying:\n%s", body)
	}
	if w := e.post("/optimization/1/revert", service.Operator, nil); w.Code != http.StatusBadRequest || wh.reverted != 0 {
		t.Errorf("a revert without a reason: %d", w.Code)
	}
	if w := e.post("/optimization/1/revert", service.Operator, url.Values{"reason": {"slower loads"}}); w.Code != http.StatusSeeOther || wh.reverted != 1 {
		t.Errorf("revert: %d", w.Code)
	}
	for _, path := range []string{"/optimization/x/apply", "/optimization/1/drop"} {
		if w := e.post(path, service.Operator, nil); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
}

// TestOptimizationForms: applying and reverting a layout change carries
// the session's token as every form does; without it, or with a wrong
// one or another session's, it is refused and the warehouse untouched.
func TestOptimizationForms(t *testing.T) {
	e := newEnv(t)
	wh := &sortingWarehouse{fakeWarehouse: e.wh}
	e.ui.Service.Warehouse = wh
	st := e.store.(interface {
		AddOptimization(ctx context.Context, o metadata.Optimization) (int64, error)
	})
	_, err := st.AddOptimization(e.ctx, metadata.Optimization{CreatedAt: time.Now(), Table: "orders", Rule: "cluster",
		Change: `{"kind":"sort","columns":["region"]}`, Status: "proposed", Detail: `{}`})
	e.must(err)
	refused := func(t *testing.T, path string, form url.Values) {
		t.Helper()
		for name, token := range map[string]string{"missing": "", "wrong": "x" + e.csrf[service.Operator],
			"another session's": e.csrf[service.Admin]} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set(csrfField, token)
			if w := e.post(path, service.Operator, f); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "security token") {
				t.Errorf("%s with a %s token: %d %s", path, name, w.Code, w.Body)
			}
		}
		if w := e.post(path, service.Operator, form, csrfHeader, "wrong"); w.Code != http.StatusForbidden {
			t.Errorf("%s with a wrong header: %d", path, w.Code)
		}
	}
	refused(t, "/optimization/1/apply", url.Values{})
	if wh.applied != 0 {
		t.Fatalf("applied %d times without a token", wh.applied)
	}
	if w := e.post("/optimization/1/apply", service.Operator, nil); w.Code != http.StatusSeeOther || wh.applied != 1 {
		t.Fatalf("apply with the token: %d", w.Code)
	}
	refused(t, "/optimization/1/revert", url.Values{"reason": {"slower loads"}})
	if wh.reverted != 0 {
		t.Fatalf("reverted %d times without a token", wh.reverted)
	}
	if w := e.post("/optimization/1/revert", service.Operator, url.Values{"reason": {"slower loads"}}); w.Code != http.StatusSeeOther || wh.reverted != 1 {
		t.Errorf("revert with the token: %d", w.Code)
	}
}
