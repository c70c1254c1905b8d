package healing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// fakeInspector serves rejected values from a map.
type fakeInspector map[string][]string

func (f fakeInspector) Rejects(context.Context, *warehouse.Staged) ([]warehouse.Reject, error) {
	return nil, nil
}

func (f fakeInspector) RejectedValues(_ context.Context, _ *warehouse.Staged, col string, limit int) ([]string, error) {
	return f[col], nil
}

func (f fakeInspector) Discard(context.Context, *warehouse.Staged) error { return nil }

// RepeatedRows finds nothing repeated.
func (f fakeInspector) RepeatedRows(context.Context, *warehouse.Staged, string) (int64, error) {
	return 0, nil
}

// Overlap serves "overlap:FILE>TARGET" from the map, -1 (nothing to
// compare with) when absent.
func (f fakeInspector) Overlap(_ context.Context, _ warehouse.LoadSpec, file, target string) (float64, error) {
	v := -1.0
	if s := f["overlap:"+file+">"+target]; len(s) > 0 {
		fmt.Sscan(s[0], &v)
	}
	return v, nil
}

func castEnv(typ string, vals []string, acceptedRows int64) *StageEnv {
	return &StageEnv{
		Spec:    warehouse.LoadSpec{ObjectKey: "f.csv"},
		Staged:  &warehouse.Staged{Columns: []warehouse.Column{{Name: "c", Type: typ}}},
		Rejects: []warehouse.Reject{{Kind: warehouse.RejectCast, Column: "c", Rows: int64(len(vals))}},
		Inspect: fakeInspector{"c": vals},
		Accepted: func(context.Context, string) (int64, error) {
			return acceptedRows, nil
		},
	}
}

// TestStageStrategiesDecideFromTheBatch: each strategy acts only when the
// batch's values leave one reading, and says why when they do not.
func TestStageStrategiesDecideFromTheBatch(t *testing.T) {
	cases := []struct {
		name     string
		strategy StageStrategy
		typ      string
		vals     []string
		accepted int64
		// want: "" no plan, "escalate: <text>" escalated, else the
		// parse or widening the plan's spec holds.
		want       string
		confidence float64
	}{
		{"day first", parseDateFormat{}, "DATE", []string{"27/11/2026", "03/04/2026"}, 0, "layouts=%d/%m/%Y", 0.95},
		{"month first", parseDateFormat{}, "DATE", []string{"11/27/2026", "03/04/2026"}, 0, "layouts=%m/%d/%Y", 0.95},
		{"same either way", parseDateFormat{}, "DATE", []string{"01/01/2026"}, 0, "layouts=%d/%m/%Y", 0.95},
		{"ambiguous", parseDateFormat{}, "DATE", []string{"03/04/2026"}, 0, "escalate: 03/04/2026 reads as 2026-04-03", 0},
		{"dotted with time", parseDateFormat{}, "TIMESTAMP", []string{"27.11.2026 10:30"}, 0, "layouts=%d.%m.%Y %H:%M:%S,%d.%m.%Y %H:%M,%d.%m.%Y", 0.95},
		{"a DATE keeps no time", parseDateFormat{}, "DATE", []string{"27.11.2026 10:30"}, 0, "", 0},
		{"not dates", parseDateFormat{}, "DATE", []string{"soon"}, 0, "", 0},
		{"not a date column", parseDateFormat{}, "VARCHAR", []string{"27/11/2026"}, 0, "", 0},
		{"epoch seconds", parseEpoch{}, "TIMESTAMP", []string{"1793750400"}, 0, "epoch=s", 0.95},
		{"epoch micros", parseEpoch{}, "TIMESTAMP", []string{"1793750400000000"}, 0, "epoch=us", 0.95},
		{"mixed units", parseEpoch{}, "TIMESTAMP", []string{"1793750400", "1793750400000"}, 0, "escalate: 1 in s, 1 in ms", 0},
		{"thousands", parseNumberFormat{}, "DOUBLE", []string{"1,234.5", "12,000"}, 3, "thousands=,", 0.95},
		{"decimal comma alone", parseNumberFormat{}, "DOUBLE", []string{"1.234,5", "7,25"}, 0, "decimal_comma", 0.95},
		{"decimal comma among accepted values", parseNumberFormat{}, "DOUBLE", []string{"7,25"}, 4, "decimal_comma", 0.7},
		{"comma either way", parseNumberFormat{}, "DOUBLE", []string{"1,234"}, 0, "escalate: decimal comma or as thousands", 0},
		{"not numbers", parseNumberFormat{}, "DOUBLE", []string{"n/a"}, 0, "", 0},
		{"null tokens in a number column", readNullTokens{}, "BIGINT", []string{"NA", "N/A", "-"}, 5, "null_tokens=NA,N/A,-", 0.95},
		{"null tokens in a date column", readNullTokens{}, "DATE", []string{" null ", "#N/A", "None"}, 0, "null_tokens= null ,#N/A,None", 0.95},
		{"null tokens among other bad values", readNullTokens{}, "TIMESTAMP", []string{"NaN", "soon"}, 0, "null_tokens=NaN", 0.9},
		{"no null token", readNullTokens{}, "DOUBLE", []string{"n/a/b", "none yet"}, 0, "", 0},
		{"a text column has no bad values to read", readNullTokens{}, "VARCHAR", []string{"NA"}, 0, "", 0},
		{"an integer's comma groups thousands", parseNumberFormat{}, "BIGINT", []string{"1,234"}, 0, "thousands=,", 0.95},
		{"an integer's commas, several groups", parseNumberFormat{}, "INTEGER", []string{"1,234,567", "-12,000"}, 2, "thousands=,", 0.95},
		{"a decimal-comma form in a DECIMAL stays ambiguous", parseNumberFormat{}, "DECIMAL(12,2)", []string{"1,234"}, 0, "escalate: decimal comma or as thousands", 0},
		{"an integer with a comma and 2 digits is no thousands", parseNumberFormat{}, "BIGINT", []string{"1,23"}, 0, "decimal_comma", 0.95},
		{"three decimals are no thousands groups", parseNumberFormat{}, "DECIMAL(12,2)", []string{"81.206", "989.228", "0.436"}, 0, "", 0},
		{"a dot group alone is no evidence", parseNumberFormat{}, "DECIMAL(12,2)", []string{"81.206", "989.228"}, 0, "", 0},
		{"several dot groups are", parseNumberFormat{}, "DOUBLE", []string{"1.234.567", "12.345"}, 0, "decimal_comma", 0.95},
		{"a leading zero group is a decimal point", parseNumberFormat{}, "DOUBLE", []string{"0.436,5"}, 0, "", 0},
		{"integer gets decimals", widenType{}, "BIGINT", []string{"12.5", "3"}, 0, "widen=NUMERIC", 0.9},
		{"integer gets exponents", widenType{}, "INTEGER", []string{"1.5e300"}, 0, "widen=FLOAT64", 0.9},
		{"date gets times", widenType{}, "DATE", []string{"2026-11-27 10:00:00"}, 0, "widen=DATETIME", 0.9},
		{"text is no number", widenType{}, "BIGINT", []string{"twelve"}, 0, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := tc.strategy.Plan(context.Background(), castEnv(tc.typ, tc.vals, tc.accepted))
			if err != nil {
				t.Fatal(err)
			}
			got := describePlan(plan)
			ok := strings.HasPrefix(got, tc.want)
			if esc, isEsc := strings.CutPrefix(tc.want, "escalate: "); isEsc {
				ok = strings.HasPrefix(got, "escalate: ") && strings.Contains(got, esc)
			}
			if !ok || (tc.want == "") != (got == "") {
				t.Fatalf("plan %q, want %q", got, tc.want)
			}
			if plan != nil && plan.Escalate == "" && plan.Confidence != tc.confidence {
				t.Errorf("confidence %.2f, want %.2f", plan.Confidence, tc.confidence)
			}
		})
	}
}

func describePlan(p *StagePlan) string {
	if p == nil {
		return ""
	}
	if p.Escalate != "" {
		return "escalate: " + p.Escalate
	}
	for _, cp := range p.Spec.Parse {
		switch {
		case len(cp.Layouts) > 0:
			return "layouts=" + strings.Join(cp.Layouts, ",")
		case cp.EpochUnit != "":
			return "epoch=" + cp.EpochUnit
		case cp.DecimalComma:
			return "decimal_comma"
		case cp.Thousands != "":
			return "thousands=" + cp.Thousands
		case len(cp.NullTokens) > 0:
			return "null_tokens=" + strings.Join(cp.NullTokens, ",")
		}
	}
	for _, to := range p.Spec.Widen {
		return "widen=" + to
	}
	return "?"
}

func TestTranscodeChoosesTheEncoding(t *testing.T) {
	for _, tc := range []struct {
		data, want string
	}{
		{"id,city\n1,K\xf6ln\n", "latin-1"},
		{"id,quote\n1,\x93hi\x94 \x80\n", "windows-1252"},
		{"id,city\n1,Köln\n", ""},
	} {
		p := filepath.Join(t.TempDir(), "f.csv")
		os.WriteFile(p, []byte(tc.data), 0o644)
		env := &StageEnv{
			Spec:    warehouse.LoadSpec{ObjectKey: "f.csv", Path: p, Format: format.CSV},
			Staged:  &warehouse.Staged{},
			Rejects: []warehouse.Reject{{Kind: warehouse.RejectEncoding, Rows: 1}},
		}
		plan, err := transcodeEncoding{}.Plan(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if plan != nil {
			got = plan.Spec.Encoding
		}
		if got != tc.want {
			t.Errorf("%q: encoding %q, want %q", tc.data, got, tc.want)
		}
	}
}

func TestRelaxAndVerify(t *testing.T) {
	env := &StageEnv{
		Spec:    warehouse.LoadSpec{ObjectKey: "f.csv", Schema: schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "k", Type: "INT64"}}},
		Staged:  &warehouse.Staged{},
		Rejects: []warehouse.Reject{{Kind: warehouse.RejectNull, Column: "k", Rows: 1}, {Kind: warehouse.RejectNull, Column: "id", Rows: 2}},
	}
	plan, err := relaxRequired{}.Plan(context.Background(), env)
	if err != nil || plan == nil || len(plan.Spec.Relax) != 1 || plan.Spec.Relax[0] != "id" || plan.Confidence >= 0.9 {
		t.Fatalf("relax: %+v %v", plan, err)
	}
	env.Spec.Relax = []string{"id"}
	if plan, _ := (relaxRequired{}).Plan(context.Background(), env); plan != nil {
		t.Fatalf("relaxed twice: %+v", plan)
	}

	before := &warehouse.Staged{Loaded: 8, Quarantined: 2, Extra: []schema.Field{{Name: "x"}}}
	for _, tc := range []struct {
		after *warehouse.Staged
		ok    bool
	}{
		{&warehouse.Staged{Loaded: 10, Extra: []schema.Field{{Name: "x"}}}, true},
		{&warehouse.Staged{Loaded: 8, Quarantined: 2}, true},
		{&warehouse.Staged{Loaded: 8, Quarantined: 2, Extra: []schema.Field{{Name: "x"}}}, false},
		{&warehouse.Staged{Loaded: 9}, false}, // a row went missing
		{&warehouse.Staged{Loaded: 7, Quarantined: 3}, false},
	} {
		if got := verifyStage(before, tc.after); got != tc.ok {
			t.Errorf("verify %+v = %v, want %v", tc.after, got, tc.ok)
		}
	}
}

func TestAdviceNamesWhatToDo(t *testing.T) {
	for c, want := range map[Category]string{
		Auth: "check the credentials", ConfigError: "configuration or the query", Quota: "quota",
		PartialFile: "truncated", Transient: "retries ran out", DriftAdded: "needs a person",
	} {
		if got := advice(c); !strings.Contains(got, want) {
			t.Errorf("advice(%s) = %q, want it to say %q", c, got, want)
		}
	}
}

func TestRecordTaskAdjustments(t *testing.T) {
	store := openTestStore(t)
	e := &Engine{Store: store}
	ctx := context.Background()
	err := e.RecordTask(ctx, pipeline.TaskReport{RunID: "r1", Pipeline: "p", Source: "db", SourceType: "postgres",
		Adjusted: []string{"chunk_size 400 -> 200 after: ERROR: canceling statement due to statement timeout (SQLSTATE 57014)"}})
	if err != nil {
		t.Fatal(err)
	}
	as, err := store.ListActions(ctx, metadata.ActionFilter{RunID: "r1"})
	if err != nil || len(as) != 1 {
		t.Fatalf("%v %+v", err, as)
	}
	if a := as[0]; a.Strategy != "reduce_chunk_size" || a.Status != "applied" || a.Category != string(Timeout) {
		t.Fatalf("action %+v", a)
	}
}
