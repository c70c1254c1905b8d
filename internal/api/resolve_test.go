package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// TestResolve: POST /healing/actions/{id}/resolve takes one of the
// options an escalated action offers, for an operator; every other
// request is refused with what to do instead, and audited.
func TestResolve(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		ctx := context.Background()
		op := e.keys[service.Operator]
		record := func(strategy, params string) int64 {
			id, err := e.store.RecordAction(ctx, metadata.HealingAction{RunID: "run-2", Pipeline: "orders", ObjectKey: "day.csv", Strategy: strategy,
				Status: "escalated", Issue: `column "day" failed to convert to DATE in 2 rows of day.csv, e.g. 03/04/2026`, Category: "format_drift_date",
				Confidence: 0.99, Params: params, Before: "[]", After: "[]"})
			must(t, err)
			return id
		}
		ambiguous := record("parse_date_format", `{"column": "day", "subject": "column day", "layout": null, "options": [`+
			`{"choice": "%d/%m/%Y", "name": "day/month/year", "reads": "03/04/2026 reads as 2026-04-03"},`+
			`{"choice": "%m/%d/%Y", "name": "month/day/year", "reads": "03/04/2026 reads as 2026-03-04"}]}`)
		epoch := record("parse_epoch", `{"subject": "column day"}`)
		path := func(id int64) string { return fmt.Sprintf("/api/v1/healing/actions/%d/resolve", id) }

		code, h, body := e.do("POST", path(ambiguous), e.keys[service.Viewer], ResolveRequest{Choice: "%d/%m/%Y", Reason: "r"})
		e.problem(code, h, body, 403, ProblemForbidden)
		code, h, body = e.do("POST", path(ambiguous), "", ResolveRequest{Choice: "%d/%m/%Y", Reason: "r"})
		e.problem(code, h, body, 401, ProblemUnauthorized)
		for _, tc := range []struct {
			body  any
			field string
		}{
			{ResolveRequest{Reason: "r"}, "choice"},
			{ResolveRequest{Choice: "%d/%m/%Y"}, "reason"},
			{ResolveRequest{Choice: "%Y-%m-%d", Reason: "r"}, "choice"},
			{`{"choice": "%d/%m/%Y", "reason": "r", "layout": "x"}`, ""},
		} {
			code, h, body = e.do("POST", path(ambiguous), op, tc.body)
			want := ProblemInvalid
			if tc.field == "" {
				want = ProblemMalformed
			}
			if p := e.problem(code, h, body, 400, want); p.Field != tc.field {
				t.Errorf("%v: field %q, want %q (%s)", tc.body, p.Field, tc.field, body)
			}
		}
		code, h, body = e.do("POST", path(ambiguous), op, ResolveRequest{Choice: "%Y-%m-%d", Reason: "r"})
		if p := e.problem(code, h, body, 400, ProblemInvalid); !strings.Contains(p.Detail, `choose "%d/%m/%Y" (day/month/year) or "%m/%d/%Y" (month/day/year)`) {
			t.Fatalf("a choice not offered: %+v", p)
		}
		code, h, body = e.do("POST", path(epoch), op, ResolveRequest{Choice: "ms", Reason: "r"})
		if p := e.problem(code, h, body, 409, ProblemConflict); !strings.Contains(p.Detail, "offers no options to choose from: nothing in the data tells how to read the column: declare its type or format in the schema") {
			t.Fatalf("an escalation without options: %+v", p)
		}
		var applied service.Page[service.ActionView]
		e.get("/api/v1/healing/actions?status=applied", service.Viewer, &applied)
		code, h, body = e.do("POST", path(applied.Items[0].ID), op, ResolveRequest{Choice: "x", Reason: "r"})
		if p := e.problem(code, h, body, 409, ProblemConflict); !strings.Contains(p.Detail, "is applied: only an escalated action can be resolved") {
			t.Fatalf("an applied action: %+v", p)
		}
		code, h, body = e.do("POST", path(9999), op, ResolveRequest{Choice: "x", Reason: "r"})
		e.problem(code, h, body, 404, ProblemNotFound)

		code, _, body = e.do("POST", path(ambiguous), op, ResolveRequest{Choice: "month/day/year", Reason: "a US feed"})
		var a service.ActionView
		if code != 200 || json.Unmarshal(body, &a) != nil || a.Status != "resolved" || !strings.HasPrefix(a.ApprovedBy, "key:") ||
			!strings.Contains(string(a.Params), `"choice":"%m/%d/%Y"`) || !strings.Contains(a.Reason, "resolved by key:") {
			t.Fatalf("resolve: %d %s", code, body)
		}
		var resolved service.Page[service.ActionView]
		e.get("/api/v1/healing/actions?status=resolved", service.Viewer, &resolved)
		if len(resolved.Items) != 1 || resolved.Items[0].ID != ambiguous {
			t.Fatalf("resolved actions: %+v", resolved)
		}
		if ex, _ := e.store.ListExamples(ctx); len(ex) != 1 || !strings.Contains(ex[0], `"category":"format_drift_date"`) {
			t.Fatalf("the choice teaches the model: %v", ex)
		}
		code, h, body = e.do("POST", path(ambiguous), op, ResolveRequest{Choice: "%m/%d/%Y", Reason: "again"})
		e.problem(code, h, body, 409, ProblemConflict)
		audit, err := e.store.ListAudit(ctx, 0)
		must(t, err)
		n := 0
		for _, en := range audit {
			if strings.HasSuffix(en.Path, "/resolve") {
				n++
			}
		}
		if n != 12 {
			t.Fatalf("%d resolve requests audited, want 12", n)
		}
	})
}
