package healing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// Strategy addresses one kind of failed expectation on the staged rows.
// Adding one is a file with a type and a RegisterStrategy call in init.
type Strategy interface {
	// Name names the strategy in the policy and the audit.
	Name() string
	// Applies reports whether the strategy can address the failure.
	Applies(f Failure) bool
	// Plan works out the repair without changing anything; nil when
	// there is nothing it can do.
	Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error)
}

// Failure is a failed expectation with its diagnosis.
type Failure struct {
	Config    quality.ConfigJSON
	Result    quality.ExpectationResult
	Issue     Issue
	Diagnosis Diagnosis
}

// RepairEnv gives a strategy read access to the staged rows: it probes
// them through the warehouse and returns its repair as data.
type RepairEnv struct {
	Staged *warehouse.Staged
	Probe  warehouse.Prober
}

// Repair is a planned change to the staged rows: a typed operation the
// warehouse compiles and runs (rewrite a column's values, or set rows
// aside in quarantine), with what the strategy found out.
type Repair struct {
	Description string
	// Confidence is how sure the strategy is that the change is right.
	Confidence float64
	Params     map[string]any
	// Plan is the change.
	Plan   warehouse.RepairOp
	Rows   int64
	Before []any // sample values before
	After  []any // the same values after
}

var strategies = struct {
	sync.RWMutex
	list []Strategy
}{}

// RegisterStrategy adds a strategy; the engine tries them in name order.
func RegisterStrategy(s Strategy) {
	strategies.Lock()
	defer strategies.Unlock()
	strategies.list = append(strategies.list, s)
	sort.Slice(strategies.list, func(i, j int) bool { return strategies.list[i].Name() < strategies.list[j].Name() })
}

// Strategies lists the registered strategies.
func Strategies() []Strategy {
	strategies.RLock()
	defer strategies.RUnlock()
	return append([]Strategy(nil), strategies.list...)
}

func init() {
	RegisterStrategy(normalizeToValueSet{})
	RegisterStrategy(quarantineDuplicates{})
}

// normalizeToValueSet trims whitespace and folds case so that values match
// an expected value set: " emea" and "Emea" become "EMEA". A value maps
// only when exactly one member of the set matches it.
type normalizeToValueSet struct{}

func (normalizeToValueSet) Name() string { return "normalize_to_value_set" }

func (normalizeToValueSet) Applies(f Failure) bool {
	if f.Config.Type != "expect_column_values_to_be_in_set" {
		return false
	}
	_, ok := f.Config.Kwargs["column"].(string)
	set, ok2 := f.Config.Kwargs["value_set"].([]any)
	if !ok || !ok2 || len(set) == 0 {
		return false
	}
	for _, v := range set {
		if _, isStr := v.(string); !isStr {
			return false
		}
	}
	return true
}

// Plan maps each value whose trimmed, case-folded text is one member of
// the set to that member; the warehouse counts and samples the rows.
func (s normalizeToValueSet) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	col := f.Config.Kwargs["column"].(string)
	members := f.Config.Kwargs["value_set"].([]any)
	byKey := map[string][]string{}
	for _, v := range members {
		k := strings.ToLower(strings.TrimSpace(v.(string)))
		byKey[k] = append(byKey[k], v.(string))
	}
	mapping := map[string]string{}
	for k, vs := range byKey {
		if len(vs) == 1 { // else ambiguous: two members fold to one key
			mapping[k] = vs[0]
		}
	}
	if len(mapping) > narrowMappingAbove {
		// A large value set: map only the values the batch holds, so the
		// warehouse compiles a mapping the size of the data, not of the
		// set (a 200,000-member set over a 750-row batch).
		narrowed, err := narrowMapping(ctx, env, col, mapping)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
		mapping = narrowed
	}
	if len(mapping) == 0 {
		return nil, nil
	}
	op := warehouse.MapValues{Column: col, Trim: true, FoldCase: true, Mapping: mapping}
	preview, err := env.Probe.PreviewRepair(ctx, env.Staged, op, 10)
	if errors.Is(err, warehouse.ErrValueDoesNotFit) {
		return nil, nil // a member the column cannot hold
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	if preview.Rows == 0 {
		return nil, nil
	}
	r := &Repair{
		Description: fmt.Sprintf("trim whitespace and fold case in %s to match the value set", col),
		Plan:        op, Params: map[string]any{"column": col, "value_set": members},
		Rows: preview.Rows, Before: preview.Before, After: preview.After,
		// Each value it changes folds to exactly one member of the
		// declared set: the change is right whatever share of the
		// failures it covers (the share is recorded; verification
		// decides whether it helped).
		Confidence: 0.95,
	}
	if unexpected := f.Result.UnexpectedCount(); unexpected > 0 {
		r.Params["explains"] = float64(r.Rows) / float64(unexpected)
	}
	return r, nil
}

// narrowMappingAbove is the mapping size beyond which normalize_to_value_set
// maps only the values a batch holds.
const narrowMappingAbove = 256

// narrowDistinctLimit bounds the distinct values read to narrow a mapping;
// a column with more keeps the whole mapping.
const narrowDistinctLimit = 100_000

// narrowMapping keeps the entries of mapping (by trimmed, case-folded key)
// that some value of the staged column folds to.
func narrowMapping(ctx context.Context, env *RepairEnv, col string, mapping map[string]string) (map[string]string, error) {
	values, err := env.Probe.DistinctValues(ctx, env.Staged, col, narrowDistinctLimit+1)
	if err != nil {
		return nil, err
	}
	if len(values) > narrowDistinctLimit {
		return mapping, nil
	}
	out := map[string]string{}
	for _, v := range values {
		k := strings.ToLower(strings.TrimSpace(v.Value))
		if canonical, ok := mapping[k]; ok {
			out[k] = canonical
		}
	}
	return out, nil
}

// quarantineDuplicates keeps the latest row of each duplicated key (the
// last in the file) and sets the others aside, counted and with a reason.
type quarantineDuplicates struct{}

func (quarantineDuplicates) Name() string { return "quarantine_duplicates" }

func keyColumns(f Failure) []string {
	switch f.Config.Type {
	case "expect_column_values_to_be_unique":
		if c, ok := f.Config.Kwargs["column"].(string); ok {
			return []string{c}
		}
	case "expect_compound_columns_to_be_unique":
		if l, ok := f.Config.Kwargs["column_list"].([]any); ok {
			var out []string
			for _, v := range l {
				s, ok := v.(string)
				if !ok {
					return nil
				}
				out = append(out, s)
			}
			return out
		}
	}
	return nil
}

func (q quarantineDuplicates) Applies(f Failure) bool { return len(keyColumns(f)) > 0 }

// Plan sets aside all but the latest row of each duplicated key.
func (q quarantineDuplicates) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	keys := keyColumns(f)
	op := warehouse.QuarantineDuplicates{Keys: keys,
		Reason: "healing: an earlier duplicate of (" + strings.Join(keys, ", ") + "); the latest row is kept"}
	preview, err := env.Probe.PreviewRepair(ctx, env.Staged, op, 10)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q.Name(), err)
	}
	if preview.Rows == 0 {
		return nil, nil
	}
	return &Repair{
		Description: fmt.Sprintf("keep the latest row of each duplicated %s; set the earlier ones aside", strings.Join(keys, ", ")),
		Plan:        op, Confidence: 0.95, Params: map[string]any{"keys": keys},
		Rows: preview.Rows, Before: preview.Before,
	}, nil
}
