package healing

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/metadata"
)

// Option is one way forward an escalated action offers a person: a
// choice the engine cannot make from the data, such as the layout of a
// date column whose values read both day-first and month-first.
type Option struct {
	// Choice is what a person chooses, e.g. "%d/%m/%Y".
	Choice string `json:"choice"`
	// Name describes it, e.g. "day/month/year"; a person may choose by it.
	Name string `json:"name,omitempty"`
	// Reads shows what the choice makes of a value, e.g. "03/04/2026
	// reads as 2026-04-03".
	Reads string `json:"reads,omitempty"`
}

// ErrNoOptions is returned by Choose for an action that offers nothing to
// choose from.
var ErrNoOptions = errors.New("the action offers no options to choose from")

// ErrNotOffered is returned by Choose for a choice the action does not
// offer.
var ErrNotOffered = errors.New("not one of the action's options")

// OptionsOf returns the options an escalated action offers, or none.
func OptionsOf(a metadata.HealingAction) []Option {
	var p struct {
		Options []Option `json:"options"`
	}
	if json.Unmarshal([]byte(a.Params), &p) != nil {
		return nil
	}
	return p.Options
}

// Choose checks a person's choice (an option's Choice, or its Name in any
// case) against an escalated action's options. It returns the option and
// the action's params with the choice recorded under "choice", which the
// strategy then follows on that subject from the next run.
func Choose(a metadata.HealingAction, choice string) (Option, string, error) {
	opts := OptionsOf(a)
	if len(opts) == 0 {
		return Option{}, "", fmt.Errorf("action #%d (%s): %w: %s", a.ID, a.Strategy, ErrNoOptions, NoOptionsHint(a))
	}
	var picked *Option
	for i, o := range opts {
		if o.Choice == choice || o.Name != "" && strings.EqualFold(o.Name, strings.TrimSpace(choice)) {
			picked = &opts[i]
			break
		}
	}
	if picked == nil {
		offered := make([]string, len(opts))
		for i, o := range opts {
			offered[i] = fmt.Sprintf("%q", o.Choice)
			if o.Name != "" {
				offered[i] += " (" + o.Name + ")"
			}
		}
		return Option{}, "", fmt.Errorf("%q is %w #%d: choose %s", choice, ErrNotOffered, a.ID, strings.Join(offered, " or "))
	}
	params := map[string]any{}
	if a.Params != "" {
		if err := json.Unmarshal([]byte(a.Params), &params); err != nil {
			return Option{}, "", fmt.Errorf("action #%d: read its params: %w", a.ID, err)
		}
	}
	params["choice"] = picked.Choice
	b, err := json.Marshal(params)
	if err != nil {
		return Option{}, "", fmt.Errorf("action #%d: record the choice: %w", a.ID, err)
	}
	return *picked, string(b), nil
}

// NoOptionsHint says what a person does about an escalation that offers
// nothing to choose from.
func NoOptionsHint(a metadata.HealingAction) string {
	switch a.Strategy {
	case "parse_date_format", "parse_epoch", "parse_number_format":
		return "nothing in the data tells how to read the column: declare its type or format in the schema (\"format\": \"%d/%m/%Y\" for a date), or correct the values at the source, then run the pipeline again"
	case "report_quarantine":
		return "the rows stay set aside: correct the values at the source, or declare the column's type or format in the schema, then run the pipeline again"
	case "report_removed_column":
		return "restore the column at the source or drop it from the schema, then run the pipeline again"
	case reportStrategy:
		return "look at the batch: if it is right, run the pipeline again; if not, correct it at the source"
	case escalateStrategy:
		return "the failure is not one retrying fixes: correct its cause (the source, its credentials or the configuration) and run the pipeline again"
	}
	return "correct the cause it names and run the pipeline again; approve and reject apply to proposed actions"
}

// chosen returns the option a person chose for the strategy's plans on a
// subject (the newest resolution), or "".
func (e *StageEnv) chosen(strategy, subject string) string {
	if e.Chosen == nil {
		return ""
	}
	return e.Chosen(strategy, subject)
}

// resolution finds the newest resolution of an escalated action of the
// strategy on the subject, and the choice it recorded.
func resolution(resolved []metadata.HealingAction, strategy, subject string) (*metadata.HealingAction, string) {
	for i, a := range resolved {
		if a.Strategy != strategy {
			continue
		}
		var p struct {
			Subject string `json:"subject"`
			Choice  string `json:"choice"`
		}
		if json.Unmarshal([]byte(a.Params), &p) == nil && p.Subject == subject && p.Choice != "" {
			return &resolved[i], p.Choice
		}
	}
	return nil, ""
}
