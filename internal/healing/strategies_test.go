package healing

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// fakeProber previews every plan with the same answer and remembers the
// operations it was shown.
type fakeProber struct {
	preview *warehouse.RepairPreview
	err     error
	seen    []warehouse.RepairOp
	values  []warehouse.ValueCount
}

func (f *fakeProber) CountRows(context.Context, *warehouse.Staged, warehouse.Predicate) (int64, error) {
	return 0, nil
}

func (f *fakeProber) DistinctValues(_ context.Context, _ *warehouse.Staged, _ string, limit int) ([]warehouse.ValueCount, error) {
	return f.values[:min(limit, len(f.values))], nil
}

func (f *fakeProber) PreviewRepair(_ context.Context, _ *warehouse.Staged, op warehouse.RepairOp, _ int) (*warehouse.RepairPreview, error) {
	f.seen = append(f.seen, op)
	return f.preview, f.err
}

// TestRuleStrategiesPlanAsData: the rule strategies return typed
// operations, never SQL, and plan nothing when the warehouse finds no
// row to change or a value the column cannot hold.
func TestRuleStrategiesPlanAsData(t *testing.T) {
	ctx := context.Background()
	failure := func(typ string, kwargs quality.Kwargs, meta map[string]any) Failure {
		return Failure{Config: quality.ConfigJSON{Type: typ, Kwargs: kwargs, Meta: meta}}
	}
	inSet := failure("expect_column_values_to_be_in_set", quality.Kwargs{"column": "region", "value_set": []any{"EMEA", "APAC", "a", "A"}}, nil)
	unique := failure("expect_compound_columns_to_be_unique", quality.Kwargs{"column_list": []any{"id", "day"}}, nil)
	notNull := failure("expect_column_values_to_not_be_null", quality.Kwargs{"column": "region"}, map[string]any{quality.MetaDefault: "unknown"})
	found := &warehouse.RepairPreview{Rows: 2, Before: []any{" emea", "Apac"}, After: []any{"EMEA", "APAC"}}
	for _, c := range []struct {
		name     string
		s        Strategy
		f        Failure
		preview  *warehouse.RepairPreview
		err      error
		want     warehouse.RepairOp
		planned  bool
		wantRows int64
	}{
		{"value set: ambiguous members are not mapped", normalizeToValueSet{}, inSet, found, nil,
			warehouse.MapValues{Column: "region", Trim: true, FoldCase: true, Mapping: map[string]string{"emea": "EMEA", "apac": "APAC"}}, true, 2},
		{"value set: nothing to change", normalizeToValueSet{}, inSet, &warehouse.RepairPreview{}, nil,
			warehouse.MapValues{Column: "region", Trim: true, FoldCase: true, Mapping: map[string]string{"emea": "EMEA", "apac": "APAC"}}, false, 0},
		{"duplicates", quarantineDuplicates{}, unique, &warehouse.RepairPreview{Rows: 3}, nil,
			warehouse.QuarantineDuplicates{Keys: []string{"id", "day"}, Reason: "healing: an earlier duplicate of (id, day); the latest row is kept"}, true, 3},
		{"default", fillDeclaredDefault{}, notNull, &warehouse.RepairPreview{Rows: 4}, nil,
			warehouse.FillDefault{Column: "region", Value: "unknown"}, true, 4},
		{"a default the column cannot hold", fillDeclaredDefault{}, notNull, nil, warehouse.ErrValueDoesNotFit,
			warehouse.FillDefault{Column: "region", Value: "unknown"}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !c.s.Applies(c.f) {
				t.Fatal("does not apply")
			}
			p := &fakeProber{preview: c.preview, err: c.err}
			r, err := c.s.Plan(ctx, &RepairEnv{Staged: &warehouse.Staged{Table: "stage_x"}, Probe: p}, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.seen) != 1 || !reflect.DeepEqual(p.seen[0], c.want) {
				t.Fatalf("previewed %+v, want %+v", p.seen, c.want)
			}
			if (r != nil) != c.planned {
				t.Fatalf("plan %+v, want one: %v", r, c.planned)
			}
			if r != nil && (!reflect.DeepEqual(r.Plan, c.want) || r.Rows != c.wantRows) {
				t.Fatalf("plan %+v", r)
			}
		})
	}
	p := &fakeProber{err: errors.New("engine down")}
	if _, err := (quarantineDuplicates{}).Plan(ctx, &RepairEnv{Staged: &warehouse.Staged{}, Probe: p}, unique); err == nil {
		t.Fatal("an engine error was swallowed")
	}
}

// A value set far larger than the batch maps only the values the batch
// holds: the plan is the size of the data, not of the set.
func TestValueSetMappingNarrowsToTheBatch(t *testing.T) {
	members := make([]any, 0, 200_000)
	for i := range 200_000 {
		members = append(members, fmt.Sprintf("Code-%06d", i))
	}
	f := Failure{Config: quality.ConfigJSON{Type: "expect_column_values_to_be_in_set",
		Kwargs: quality.Kwargs{"column": "code", "value_set": members}}}
	for _, c := range []struct {
		name   string
		values []string
		want   map[string]string
	}{
		{"two fixable values among others", []string{" code-000007", "CODE-199999", "Code-000001", "nothing"},
			map[string]string{"code-000007": "Code-000007", "code-199999": "Code-199999", "code-000001": "Code-000001"}},
		{"nothing fixable", []string{"x", "y"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &fakeProber{preview: &warehouse.RepairPreview{Rows: 2}}
			for _, v := range c.values {
				p.values = append(p.values, warehouse.ValueCount{Value: v, Rows: 1})
			}
			r, err := normalizeToValueSet{}.Plan(context.Background(), &RepairEnv{Staged: &warehouse.Staged{Table: "t"}, Probe: p}, f)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil {
				if r != nil || len(p.seen) != 0 {
					t.Fatalf("planned %+v for values outside the set", r)
				}
				return
			}
			got := p.seen[0].(warehouse.MapValues).Mapping
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("mapping %v, want %v", got, c.want)
			}
			if len(r.Params["value_set"].([]any)) != len(members) {
				t.Fatal("the recorded value set must stay whole")
			}
		})
	}
	// More distinct values than the probe reads: the whole mapping.
	p := &fakeProber{preview: &warehouse.RepairPreview{Rows: 1}}
	for i := range narrowDistinctLimit + 1 {
		p.values = append(p.values, warehouse.ValueCount{Value: fmt.Sprint(i), Rows: 1})
	}
	if _, err := (normalizeToValueSet{}).Plan(context.Background(), &RepairEnv{Staged: &warehouse.Staged{Table: "t"}, Probe: p}, f); err != nil {
		t.Fatal(err)
	}
	if n := len(p.seen[0].(warehouse.MapValues).Mapping); n != len(members) {
		t.Fatalf("mapping of %d entries, want the whole set", n)
	}
}
