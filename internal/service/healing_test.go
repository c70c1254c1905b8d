package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/warehouse"
)

// actionsFixture records a succeeded run of orders with five actions and
// a failed run of events with one.
func actionsFixture(t *testing.T) (*fixture, []int64) {
	f := newFixture(t, nil)
	f.run("run-a", "orders", metadata.StatusSucceeded, day(20), nil)
	f.run("run-b", "events", metadata.StatusFailed, day(21), nil)
	var ids []int64
	for _, a := range []metadata.HealingAction{
		{RunID: "run-a", Pipeline: "orders", Strategy: "normalize_to_value_set", Status: "applied", Category: "value_set_drift",
			Issue: "rule expect_column_values_to_be_in_set(region) failed", Params: `{"originals": "tok-1", "column": "region"}`},
		{RunID: "run-a", Pipeline: "orders", Strategy: "normalize_to_value_set", Status: "proposed", Category: "value_set_drift",
			Issue: "rule expect_column_values_to_be_in_set(channel) failed", Confidence: 0.7},
		{RunID: "run-a", Pipeline: "orders", Strategy: "quarantine_duplicates", Status: "applied", Category: "duplicates",
			Issue: "rule expect_column_values_to_be_unique(id) failed", Params: `{"set_aside": "duplicate key"}`},
		{RunID: "run-a", Pipeline: "orders", Strategy: "parse_date_format", Status: "escalated", Category: "format_drift_date",
			Issue: "column day reads both day-first and month-first", Signature: "parse_date_format|column day",
			Params: `{"subject": "column day", "options": [{"choice": "%d/%m/%Y", "name": "day/month/year"}, {"choice": "%m/%d/%Y", "name": "month/day/year"}]}`},
		{RunID: "run-a", Pipeline: "orders", Strategy: "report_quarantine", Status: "escalated", Category: "schema_drift_type",
			Issue: "column amount: 3 values are not numbers", Signature: "report_quarantine|cast amount"},
		{RunID: "run-b", Pipeline: "events", Strategy: "normalize_to_value_set", Status: "applied", Category: "value_set_drift",
			Issue: "rule expect_column_values_to_be_in_set(kind) failed", Params: `{"originals": "tok-2"}`},
	} {
		ids = append(ids, f.action(a))
	}
	return f, ids
}

// TestActions: actions newest first, by run, pipeline, status and
// category, a page at a time; bad filters are refused.
func TestActions(t *testing.T) {
	f, ids := actionsFixture(t)
	idList := func(page Page[ActionView]) []int64 {
		var out []int64
		for _, a := range page.Items {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		q     ActionQuery
		want  []int64
		more  bool
		error string
	}{
		{"all", ActionQuery{}, []int64{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}, false, ""},
		{"of a run", ActionQuery{RunID: "run-b"}, []int64{ids[5]}, false, ""},
		{"of a pipeline and status", ActionQuery{Pipeline: "orders", Status: "applied"}, []int64{ids[2], ids[0]}, false, ""},
		{"of a category", ActionQuery{Category: "duplicates"}, []int64{ids[2]}, false, ""},
		{"a page", ActionQuery{PageRequest: PageRequest{PageSize: 4}}, []int64{ids[5], ids[4], ids[3], ids[2]}, true, ""},
		{"after a token", ActionQuery{PageRequest: PageRequest{PageToken: encodeToken("actions", "3")}}, []int64{ids[1], ids[0]}, false, ""},
		{"an unknown status", ActionQuery{Status: "done"}, nil, false, "field:status"},
		{"a category not in the taxonomy", ActionQuery{Category: "gremlins"}, nil, false, "field:category"},
		{"a token that is no id", ActionQuery{PageRequest: PageRequest{PageToken: encodeToken("actions", "x")}}, nil, false, "field:page_token"},
		{"a token below 1", ActionQuery{PageRequest: PageRequest{PageToken: encodeToken("actions", "0")}}, nil, false, "field:page_token"},
		{"a token of another listing", ActionQuery{PageRequest: PageRequest{PageToken: encodeToken("runs", "3")}}, nil, false, "field:page_token"},
		{"a bad page size", ActionQuery{PageRequest: PageRequest{PageSize: -1}}, nil, false, "field:page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.svc.Actions(f.ctx, tc.q)
			wantErr(t, err, tc.error)
			got := idList(page)
			if len(got) != len(tc.want) || (page.NextPageToken != "") != tc.more {
				t.Fatalf("actions %v (next %q), want %v (more: %v)", got, page.NextPageToken, tc.want, tc.more)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("actions %v, want %v", got, tc.want)
				}
			}
		})
	}

	a, err := f.svc.Action(f.ctx, ids[0])
	wantErr(t, err, "")
	if a.Strategy != "normalize_to_value_set" || a.Occurrences != 1 || a.LastSeenAt != nil || string(a.Before) != "null" ||
		!strings.Contains(string(a.Params), "tok-1") {
		t.Fatalf("action %+v", a)
	}
	_, err = f.svc.Action(f.ctx, 999)
	wantErr(t, err, "not found")
}

// TestDecide: a person approves or rejects a proposed action; the
// decision teaches the diagnosis (an approval confirms the category, a
// rejection with a category corrects it); other actions cannot be
// decided.
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name     string
		action   int // index in actionsFixture
		decision Decision
		status   string // the action's status after
		example  string // the category learned, "" for none
		want     string
	}{
		{"an approval", 1, Decision{Approve: true, By: "ana"}, "approved", "value_set_drift", ""},
		{"a rejection", 1, Decision{By: "ana", Reason: "new channel"}, "rejected", "", ""},
		{"a rejection that corrects the category", 1, Decision{By: "ana", Reason: "a typo", Category: "config_error"}, "rejected", "config_error", ""},
		{"a rejection without a reason", 1, Decision{By: "ana"}, "proposed", "", "field:reason"},
		{"a category not in the taxonomy", 1, Decision{By: "ana", Reason: "x", Category: "gremlins"}, "proposed", "", "field:category"},
		{"an approval with a category", 1, Decision{Approve: true, By: "ana", Category: "config_error"}, "proposed", "", "field:category"},
		{"an applied action", 0, Decision{Approve: true, By: "ana"}, "applied", "", "conflict"},
		{"an escalated action", 3, Decision{Approve: true, By: "ana"}, "escalated", "", "conflict"},
		{"no such action", -1, Decision{Approve: true, By: "ana"}, "", "", "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ids := actionsFixture(t)
			tc.decision.ActionID = 999
			if tc.action >= 0 {
				tc.decision.ActionID = ids[tc.action]
			}
			v, err := f.svc.Decide(f.ctx, tc.decision)
			wantErr(t, err, tc.want)
			if tc.want == "" && (v.Status != tc.status || v.ApprovedBy != "ana") {
				t.Fatalf("decided action %+v", v)
			}
			if tc.action == 3 && !strings.Contains(err.Error(), "shp healing resolve") {
				t.Fatalf("the refusal does not say how an escalation is resolved: %v", err)
			}
			if tc.action >= 0 {
				a, _ := f.store.GetAction(f.ctx, ids[tc.action])
				if a.Status != tc.status {
					t.Fatalf("the action is %s, want %s", a.Status, tc.status)
				}
			}
			examples, _ := f.store.ListExamples(f.ctx)
			if tc.example == "" && len(examples) != 0 || tc.example != "" && (len(examples) != 1 || !strings.Contains(examples[0], `"`+tc.example+`"`)) {
				t.Fatalf("examples %v, want one of %q", examples, tc.example)
			}
		})
	}
}

// repairer is a warehouse that only reverts: it records what it is asked.
type repairer struct {
	warehouse.Warehouse
	reverts []warehouse.RevertSpec
	err     error
}

func (r *repairer) RevertRepair(_ context.Context, spec warehouse.RevertSpec) (int64, error) {
	r.reverts = append(r.reverts, spec)
	return 4, r.err
}

// TestRevert: an applied action of a committed batch is undone in the
// target and marked reverted; actions that are not applied, whose batch
// never reached the target or was replaced since, or that kept nothing
// to restore, are not.
func TestRevert(t *testing.T) {
	type setup func(f *fixture, ids []int64) int64
	action := func(i int) setup { return func(_ *fixture, ids []int64) int64 { return ids[i] } }
	for _, tc := range []struct {
		name     string
		id       setup
		reason   string
		category string
		noWh     bool
		whErr    error
		want     string
		reverted bool
	}{
		{"a value rewrite", action(0), "wrong map", "", false, nil, "", true},
		{"a set-aside of a merge pipeline", action(2), "keep them", "", false, nil, "conflict", false},
		{"with a category", action(0), "wrong map", "config_error", false, nil, "", true},
		{"without a reason", action(0), "", "", false, nil, "field:reason", false},
		{"a category not in the taxonomy", action(0), "x", "gremlins", false, nil, "field:category", false},
		{"a proposed action", action(1), "x", "", false, nil, "conflict", false},
		{"no such action", func(*fixture, []int64) int64 { return 999 }, "x", "", false, nil, "not found", false},
		{"an action of a failed run", action(5), "x", "", false, nil, "conflict", false},
		{"without a warehouse", action(0), "x", "", true, nil, "unavailable", false},
		{"the warehouse fails", action(0), "x", "", false, errors.New("disk full"), "error", false},
		{"a rewrite changed since", action(0), "x", "", false, &warehouse.ChangedSinceError{Changed: 1, Kept: 4}, "conflict", false},
		{"an action that kept nothing", func(f *fixture, _ []int64) int64 {
			return f.action(metadata.HealingAction{RunID: "run-a", Pipeline: "orders", Strategy: "evolve_schema", Status: "applied"})
		}, "x", "", false, nil, "conflict", false},
		{"an action of a pipeline no longer configured", func(f *fixture, _ []int64) int64 {
			return f.action(metadata.HealingAction{RunID: "run-a", Pipeline: "gone", Strategy: "normalize_to_value_set", Status: "applied"})
		}, "x", "", false, nil, "not found", false},
		{"an action of an unknown run", func(f *fixture, _ []int64) int64 {
			return f.action(metadata.HealingAction{RunID: "run-zz", Pipeline: "orders", Strategy: "normalize_to_value_set", Status: "applied"})
		}, "x", "", false, nil, "not found", false},
		{"a rescue in a merge that de-duplicated keys", func(f *fixture, _ []int64) int64 {
			f.must(f.store.CreateRun(f.ctx, metadata.Run{ID: "run-dd", Pipeline: "orders", StartedAt: day(25)}))
			f.must(f.store.FinishRun(f.ctx, metadata.Run{ID: "run-dd", Status: metadata.StatusSucceeded, EndedAt: day(25), RowsDeduplicated: 2}))
			return f.action(metadata.HealingAction{RunID: "run-dd", Pipeline: "orders", Strategy: "parse_date_format", Status: "applied",
				Params: `{"rescued": "tok-3"}`})
		}, "x", "", false, nil, "conflict", false},
		{"an action of a replaced table", func(f *fixture, _ []int64) int64 {
			f.run("run-e1", "events", metadata.StatusSucceeded, day(22), nil)
			f.run("run-e2", "events", metadata.StatusSucceeded, day(23), nil)
			return f.action(metadata.HealingAction{RunID: "run-e1", Pipeline: "events", Strategy: "normalize_to_value_set", Status: "applied",
				Params: `{"originals": "tok-4"}`})
		}, "x", "", false, nil, "conflict", false},
		{"an action of the latest replacement", func(f *fixture, _ []int64) int64 {
			f.run("run-e1", "events", metadata.StatusSucceeded, day(22), nil)
			return f.action(metadata.HealingAction{RunID: "run-e1", Pipeline: "events", Strategy: "normalize_to_value_set", Status: "applied",
				Params: `{"originals": "tok-4"}`})
		}, "x", "", false, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ids := actionsFixture(t)
			wh := &repairer{err: tc.whErr}
			if !tc.noWh {
				f.svc.Warehouse = wh
			}
			id := tc.id(f, ids)
			rv, err := f.svc.Revert(f.ctx, id, "ana", tc.reason, tc.category)
			wantErr(t, err, tc.want)
			a, _ := f.store.GetAction(f.ctx, id)
			if (a.Status == "reverted") != tc.reverted {
				t.Fatalf("the action is %s after %v", a.Status, err)
			}
			if !tc.reverted {
				return
			}
			if rv.Rows != 4 || rv.Action.Status != "reverted" || !strings.Contains(rv.Action.Reason, tc.reason) || len(wh.reverts) != 1 ||
				wh.reverts[0].Kind != warehouse.RevertRewrite {
				t.Fatalf("reverted %+v, warehouse asked %+v", rv, wh.reverts)
			}
			examples, _ := f.store.ListExamples(f.ctx)
			if (len(examples) == 1) != (tc.category != "") {
				t.Fatalf("examples %v after a revert with category %q", examples, tc.category)
			}
		})
	}
}

// TestResolve: a person chooses one of the options an escalated action
// offers; the choice is recorded for its strategy and teaches the
// diagnosis. Other choices, and other actions, are refused.
func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action int
		r      Resolution
		want   string
	}{
		{"an option by its name", 3, Resolution{Choice: "Day/Month/Year", By: "ana", Reason: "a European shop"}, ""},
		{"an option by its choice", 3, Resolution{Choice: "%m/%d/%Y", By: "ana", Reason: "a US shop"}, ""},
		{"no choice", 3, Resolution{By: "ana", Reason: "x"}, "field:choice"},
		{"no reason", 3, Resolution{Choice: "%d/%m/%Y", By: "ana"}, "field:reason"},
		{"a choice not offered", 3, Resolution{Choice: "%Y", By: "ana", Reason: "x"}, "field:choice"},
		{"an escalation without options", 4, Resolution{Choice: "x", By: "ana", Reason: "x"}, "conflict"},
		{"a proposed action", 1, Resolution{Choice: "x", By: "ana", Reason: "x"}, "conflict"},
		{"no such action", -1, Resolution{Choice: "x", By: "ana", Reason: "x"}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ids := actionsFixture(t)
			tc.r.ActionID = 999
			if tc.action >= 0 {
				tc.r.ActionID = ids[tc.action]
			}
			v, err := f.svc.Resolve(f.ctx, tc.r)
			wantErr(t, err, tc.want)
			examples, _ := f.store.ListExamples(f.ctx)
			if tc.want != "" {
				if len(examples) != 0 {
					t.Fatalf("a refused resolution taught %v", examples)
				}
				return
			}
			var p struct{ Choice string }
			if v.Status != "resolved" || json.Unmarshal(v.Params, &p) != nil || p.Choice == "" || len(examples) != 1 ||
				!strings.Contains(examples[0], "format_drift_date") {
				t.Fatalf("resolved %+v (choice %q), examples %v", v, p.Choice, examples)
			}
		})
	}
}

// TestModelsAndStrategies: models newest first; each strategy with what
// the policy lets it do; a bad policy is an error.
func TestModelsAndStrategies(t *testing.T) {
	f := newFixture(t, nil)
	for _, active := range []bool{false, true} {
		_, err := f.store.SaveModel(f.ctx, metadata.HealingModel{Metrics: `{"macro_f1": 0.9}`, Model: "{}", Active: active})
		f.must(err)
	}
	models, err := f.svc.Models(f.ctx)
	wantErr(t, err, "")
	if len(models) != 2 || models[0].Version != 2 || !models[0].Active || models[1].Active || !strings.Contains(string(models[1].Evaluation), "macro_f1") {
		t.Fatalf("models %+v", models)
	}

	strategies, err := f.svc.Strategies()
	wantErr(t, err, "")
	stages := map[string]int{}
	var dup *StrategyView
	for i, s := range strategies {
		stages[s.Stage]++
		if s.Name == "quarantine_duplicates" {
			dup = &strategies[i]
		}
	}
	if dup == nil || !dup.AutoApproved || dup.Stage != "rule" || dup.Threshold != 0.8 {
		t.Fatalf("quarantine_duplicates: %+v", dup)
	}
	if len(strategies) != len(healing.StageStrategies())+len(healing.Strategies())+len(healing.OtherStrategies()) ||
		stages["stage"] != len(healing.StageStrategies()) || stages["rule"] != len(healing.Strategies()) {
		t.Fatalf("strategies by stage %v", stages)
	}

	f.svc.Project.SelfHealing = map[string]any{"confidence_threshold": 5.0}
	_, err = f.svc.Strategies()
	wantErr(t, err, "error")
}

// TestActionOf: an action merged from repeats counts them, and says when
// it was last seen.
func TestActionOf(t *testing.T) {
	at := day(20)
	v := ActionOf(metadata.HealingAction{ID: 3, Occurrences: 4, LastSeenAt: at, Params: "not json"})
	if v.Occurrences != 4 || v.LastSeenAt == nil || !v.LastSeenAt.Equal(at) || string(v.Params) != "null" {
		t.Fatalf("action %+v", v)
	}
}
