package healing

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestAmbiguousDateOptions: an ambiguous date column's escalation offers
// its candidate layouts; once a person chose one the strategy reads the
// column with it (every variant of a timestamp's time of day), and a batch
// the chosen layout does not read is escalated again, not guessed.
func TestAmbiguousDateOptions(t *testing.T) {
	ctx := context.Background()
	env := castEnv("DATE", []string{"03/04/2026", "05/06/2026"}, 0)
	plan, err := parseDateFormat{}.Plan(ctx, env)
	if err != nil || plan == nil || plan.Escalate == "" {
		t.Fatalf("plan %+v %v", plan, err)
	}
	want := []Option{{Choice: "%d/%m/%Y", Name: "day/month/year", Reads: "03/04/2026 reads as 2026-04-03"},
		{Choice: "%m/%d/%Y", Name: "month/day/year", Reads: "03/04/2026 reads as 2026-03-04"}}
	if got := plan.Params["options"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("options %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		typ, choice string
		vals        []string
		want        string
	}{
		{"DATE", "%m/%d/%Y", []string{"03/04/2026", "05/06/2026"}, "layouts=%m/%d/%Y"},
		{"DATE", "%d/%m/%Y", []string{"03/04/2026", "25/06/2026"}, "layouts=%d/%m/%Y"},
		{"TIMESTAMP WITH TIME ZONE", "%d/%m/%Y", []string{"03/04/2026 10:00"}, "layouts=%d/%m/%Y %H:%M:%S,%d/%m/%Y %H:%M,%d/%m/%Y"},
		{"DATE", "%d/%m/%Y", []string{"03/04/2026", "12/25/2026"}, "escalate: column c: values such as 12/25/2026 do not read as %d/%m/%Y, the layout a person chose for it"},
		{"DATE", "%d/%m/%Y", []string{"2026.04.03"}, ""}, // no layout reads it: left to the other strategies
	} {
		env := castEnv(tc.typ, tc.vals, 0)
		env.Chosen = func(strategy, subject string) string {
			if strategy == "parse_date_format" && subject == "column c" {
				return tc.choice
			}
			return ""
		}
		plan, err := parseDateFormat{}.Plan(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		if got := describePlan(plan); !strings.HasPrefix(got, tc.want) || (got == "") != (tc.want == "") {
			t.Errorf("%s %v chosen %s: plan %q, want %q", tc.typ, tc.vals, tc.choice, got, tc.want)
			continue
		}
		if plan != nil && plan.Escalate == "" && plan.Params["choice"] != tc.choice {
			t.Errorf("%v: the plan does not say it follows the choice: %v", tc.vals, plan.Params)
		}
	}
}

// TestChoose: a choice is one of the options, by its layout or its name;
// anything else is refused naming the options, and an action without
// options says what to do instead.
func TestChoose(t *testing.T) {
	opts, _ := json.Marshal(map[string]any{"subject": "column day", "layout": nil, "options": []Option{
		{Choice: "%d/%m/%Y", Name: "day/month/year"}, {Choice: "%m/%d/%Y", Name: "month/day/year"}}})
	a := metadata.HealingAction{ID: 7, Strategy: "parse_date_format", Params: string(opts)}
	for _, choice := range []string{"%m/%d/%Y", "Month/Day/Year", " month/day/year "} {
		o, params, err := Choose(a, choice)
		var p map[string]any
		if err != nil || o.Choice != "%m/%d/%Y" || json.Unmarshal([]byte(params), &p) != nil || p["choice"] != "%m/%d/%Y" || p["subject"] != "column day" {
			t.Errorf("choose %q: %+v %s %v", choice, o, params, err)
		}
	}
	_, _, err := Choose(a, "%Y-%m-%d")
	if !errors.Is(err, ErrNotOffered) || err.Error() != `"%Y-%m-%d" is not one of the action's options #7: choose "%d/%m/%Y" (day/month/year) or "%m/%d/%Y" (month/day/year)` {
		t.Errorf("a choice not offered: %v", err)
	}
	for _, strategy := range []string{"parse_epoch", "report_removed_column", "escalate", "report_anomaly", "report_quarantine", "something_else"} {
		_, _, err := Choose(metadata.HealingAction{ID: 8, Strategy: strategy, Params: `{"subject": "column day"}`}, "x")
		if !errors.Is(err, ErrNoOptions) || !strings.Contains(err.Error(), "run the pipeline again") {
			t.Errorf("%s: %v", strategy, err)
		}
	}
}
