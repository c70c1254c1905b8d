package healing

import (
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestDecide: the one decision of rule and stage repairs alike, from the
// policy and people's decisions.
func TestDecide(t *testing.T) {
	policy := Policy{Threshold: 0.9, AutoApprove: map[string]bool{"fix": true}, CategoryThreshold: map[Category]float64{DateFormat: 0.5}}
	rule := proposal{strategy: "fix", issue: "rule expect_x(col) failed: 3 unexpected values", on: "rule", category: ValueDrift,
		confidence: 0.95, description: "map 3 values"}
	stage := proposal{strategy: "fix", issue: "column day: 3 values", subject: "column day", on: "column", category: DriftType,
		confidence: 0.95, description: "read day as %d/%m/%Y", choice: "%d/%m/%Y"}
	onDay := `{"subject": "column day", "choice": "%d/%m/%Y"}`
	with := func(p proposal, change func(*proposal)) proposal { change(&p); return p }
	for _, tc := range []struct {
		name       string
		dryRun     bool
		ds         *decisions
		p          proposal
		act, hold  bool
		status     string
		approvedBy string
		reason     string // in the reason
	}{
		{"auto-approved above the threshold", false, &decisions{}, rule, true, false, "", "policy", ""},
		{"an escalation", false, &decisions{}, with(stage, func(p *proposal) { p.escalate = "a person chooses the layout" }),
			false, false, "escalated", "", "a person chooses the layout"},
		{"a dry run", true, nil, rule, false, false, "dry_run", "", "map 3 values (dry run: nothing changed)"},
		{"not in auto_approve", false, &decisions{}, with(rule, func(p *proposal) { p.strategy = "other" }),
			false, false, "proposed", "", "the strategy is not in auto_approve"},
		{"below the threshold", false, &decisions{}, with(rule, func(p *proposal) { p.confidence = 0.7 }),
			false, false, "proposed", "", "confidence 0.70 is below 0.90"},
		{"above its category's threshold", false, &decisions{}, with(rule, func(p *proposal) { p.confidence = 0.7; p.category = DateFormat }),
			true, false, "", "policy", ""},
		{"a person approved another strategy on the rule", false, &decisions{approved: []metadata.HealingAction{{ID: 3, Strategy: "other",
			Issue: "rule expect_x(col) failed: 9 unexpected values"}}}, with(rule, func(p *proposal) { p.confidence = 0.1 }),
			false, false, "proposed", "", "confidence 0.10 is below 0.90"},
		{"a person approved the strategy on the rule", false, &decisions{approved: []metadata.HealingAction{{ID: 3, Strategy: "fix",
			Issue: "rule expect_x(col) failed: 9 unexpected values", ApprovedBy: "ana"}}},
			with(rule, func(p *proposal) { p.confidence = 0.1 }), true, false, "", "ana (approval of action #3)", ""},
		{"a repair on the rule was reverted", false, &decisions{reverted: []metadata.HealingAction{{ID: 5, Strategy: "fix",
			Issue: "rule expect_x(col) failed: 1 unexpected values"}}}, rule, false, false, "proposed", "",
			"action #5 of this strategy on this rule was reverted"},
		{"it changes what the data means", false, &decisions{}, with(stage, func(p *proposal) { p.changesMeaning = true }),
			false, true, "proposed", "", "it changes what the data means; the commit is held"},
		{"a person chose its option", false, &decisions{resolved: []metadata.HealingAction{{ID: 4, Strategy: "fix", Params: onDay, ApprovedBy: "ana"}}},
			with(stage, func(p *proposal) { p.changesMeaning = true }), true, false, "", "ana (choice in action #4)", ""},
		{"a person chose another option", false, &decisions{resolved: []metadata.HealingAction{{ID: 4, Strategy: "fix",
			Params: `{"subject": "column day", "choice": "%m/%d/%Y"}`}}}, with(stage, func(p *proposal) { p.strategy = "other" }),
			false, false, "proposed", "", "auto_approve"},
		{"a repair after the choice was reverted", false, &decisions{
			resolved: []metadata.HealingAction{{ID: 4, Strategy: "fix", Params: onDay}},
			reverted: []metadata.HealingAction{{ID: 6, Strategy: "fix", Params: `{"subject": "column day"}`}}},
			stage, false, false, "proposed", "", "action #6 of this strategy on this column was reverted"},
		{"a choice before a revert", false, &decisions{
			resolved: []metadata.HealingAction{{ID: 7, Strategy: "fix", Params: onDay, ApprovedBy: "bo"}},
			reverted: []metadata.HealingAction{{ID: 6, Strategy: "fix", Params: `{"subject": "column day"}`}}},
			stage, true, false, "", "bo (choice in action #7)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy
			p.DryRun = tc.dryRun
			v := (&Engine{Policy: p}).decide(tc.ds, tc.p)
			if v.act != tc.act || v.hold != tc.hold || v.status != tc.status || v.approvedBy != tc.approvedBy || !strings.Contains(v.reason, tc.reason) {
				t.Fatalf("verdict %+v", v)
			}
		})
	}
}
