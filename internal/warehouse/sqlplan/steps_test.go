package sqlplan

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/warehouse"
)

func TestMeasure(t *testing.T) {
	ctx := context.Background()
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	boom := errors.New("boom")
	two := []warehouse.Column{{Name: "id"}, {Name: "At"}}
	for _, tc := range []struct {
		name      string
		cols      []warehouse.Column
		eventTime string
		db        fakeDB
		want      *warehouse.Metrics
		query     string
		err       error
	}{
		{"no columns", nil, "", fakeDB{}, &warehouse.Metrics{NonNull: map[string]int64{}}, "", nil},
		{"counts", two, "", fakeDB{row: []any{int64(3), int64(2), int64(1)}},
			&warehouse.Metrics{Rows: 3, NonNull: map[string]int64{"id": 2, "At": 1}}, `SELECT count(*), count("id"), count("At") FROM stg`, nil},
		{"event time", two, "at", fakeDB{row: []any{int64(3), int64(2), int64(1), any(when)}},
			&warehouse.Metrics{Rows: 3, NonNull: map[string]int64{"id": 2, "At": 1}, EventColumn: "At", Newest: when}, `SELECT count(*), count("id"), count("At"), max("At") FROM stg`, nil},
		{"event time empty", two, "at", fakeDB{row: []any{int64(0), int64(0), int64(0), nil}},
			&warehouse.Metrics{NonNull: map[string]int64{"id": 0, "At": 0}, EventColumn: "At"}, "", nil},
		{"event column not a time", two, "At", fakeDB{row: []any{int64(1), int64(1), int64(1), any("x")}},
			&warehouse.Metrics{Rows: 1, NonNull: map[string]int64{"id": 1, "At": 1}, EventColumn: "At", EventNotTime: true}, "", nil},
		{"fails", two, "", fakeDB{err: boom}, nil, "", boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Measure(ctx, &tc.db, pg, "stg", tc.cols, tc.eventTime)
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got %+v %v, want %+v %v", m, err, tc.want, tc.err)
			}
			if tc.query != "" && tc.db.queries[0] != tc.query {
				t.Fatalf("query %q, want %q", tc.db.queries[0], tc.query)
			}
		})
	}
}

func TestCommitSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec warehouse.CommitSpec
		err  string
	}{
		{"append", warehouse.CommitSpec{Mode: warehouse.ModeAppend}, ""},
		{"replace", warehouse.CommitSpec{Mode: warehouse.ModeReplace}, ""},
		{"merge", warehouse.CommitSpec{Mode: warehouse.ModeMerge, Key: []string{"id"}}, ""},
		{"merge without key", warehouse.CommitSpec{Mode: warehouse.ModeMerge}, "merge needs key columns"},
		{"unknown", warehouse.CommitSpec{Mode: "upsert"}, `unknown write mode "upsert"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMode(tc.spec)
			if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	if got := StagingTables(&warehouse.Staged{Table: "s1"}); !reflect.DeepEqual(got, []string{"s1", "s1_q"}) {
		t.Errorf("staging tables %v", got)
	}
	objects := []*warehouse.Staged{{Table: "s1"}}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		spec  warehouse.CommitSpec
		fail  error
		want  []string
		err   string
		wargs [][]any
	}{
		{"append", warehouse.CommitSpec{Mode: warehouse.ModeAppend, Objects: objects}, nil, nil, "", nil},
		{"replace nothing", warehouse.CommitSpec{Mode: warehouse.ModeReplace}, nil, nil, "", nil},
		{"replace", warehouse.CommitSpec{Mode: warehouse.ModeReplace, Objects: objects}, nil, []string{"DELETE FROM t"}, "", [][]any{nil}},
		{"replace fails", warehouse.CommitSpec{Mode: warehouse.ModeReplace, Objects: objects}, boom, []string{"DELETE FROM t"}, "replace: boom", [][]any{nil}},
		{"rebuild", warehouse.CommitSpec{Mode: warehouse.ModeAppend, Rebuild: true, Pipeline: "p"}, nil,
			[]string{"DELETE FROM t", "DELETE FROM q WHERE pipeline = $1", "DELETE FROM l WHERE pipeline = $1"}, "", [][]any{nil, {"p"}, {"p"}}},
		{"rebuild fails", warehouse.CommitSpec{Mode: warehouse.ModeAppend, Rebuild: true}, boom, []string{"DELETE FROM t"}, "clear for full refresh: boom", [][]any{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var args [][]any
			err := Clear(pg, func(q string, a ...any) error { got, args = append(got, q), append(args, a); return tc.fail }, tc.spec, "t", "q", "l")
			if (err == nil) != (tc.err == "") || err != nil && (err.Error() != tc.err || !errors.Is(err, boom)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(args, tc.wargs) {
				t.Fatalf("ran %q %v, want %q %v", got, args, tc.want, tc.wargs)
			}
		})
	}
}

func TestCSVDefaults(t *testing.T) {
	for _, tc := range []struct {
		name         string
		csv          warehouse.CSVOptions
		delim, quote string
		nulls        []string
	}{
		{"defaults", warehouse.CSVOptions{}, ",", `"`, []string{""}},
		{"given", warehouse.CSVOptions{Delimiter: ";", Quote: "'", NullValues: []string{"NA", ""}}, ";", "'", []string{"NA", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, q, n := CSVDefaults(tc.csv)
			if d != tc.delim || q != tc.quote || !reflect.DeepEqual(n, tc.nulls) {
				t.Fatalf("got %q %q %q", d, q, n)
			}
		})
	}
}

func TestRevert(t *testing.T) {
	tcols := []warehouse.Column{{Name: "id", Type: "BIGINT"}, {Name: "name", Type: "TEXT"}}
	changed := &warehouse.ChangedSinceError{Changed: 1, Kept: 2}
	var called string
	r := Reverts{
		Rewrite: func(_ context.Context, _ warehouse.RevertSpec, c warehouse.Column, keep []warehouse.Column) (int64, error) {
			called = "rewrite " + c.Name + " over " + names(keep)
			return 3, nil
		},
		Rescue: func(_ context.Context, _ warehouse.RevertSpec, keep []warehouse.Column) (int64, error) {
			called = "rescue over " + names(keep)
			return 0, changed
		},
		SetAside: func(_ context.Context, _ warehouse.RevertSpec, tc []warehouse.Column) (int64, error) {
			called = "set aside into " + names(tc)
			return 2, nil
		},
	}
	for _, tc := range []struct {
		name   string
		spec   warehouse.RevertSpec
		called string
		n      int64
		err    string
	}{
		{"rewrite", warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Column: "NAME", RowColumns: []string{"name", "ID"}}, "rewrite name over name,id", 3, ""},
		{"rewrite of no column", warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Column: "x"}, "", 0, `eng: target t has no column "x"`},
		{"rescue", warehouse.RevertSpec{Kind: warehouse.RevertRescue, RowColumns: []string{"id"}}, "rescue over id", 0, changed.Error()},
		{"set aside", warehouse.RevertSpec{Kind: warehouse.RevertSetAside}, "set aside into id,name", 2, ""},
		{"unknown", warehouse.RevertSpec{Kind: "other"}, "", 0, `eng: unknown kind of revert "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called = ""
			n, err := Revert(context.Background(), "eng", tc.spec, tcols, r)
			if called != tc.called || n != tc.n || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
				t.Fatalf("called %q, %d, %v", called, n, err)
			}
		})
	}
}

func names(cols []warehouse.Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return strings.Join(out, ",")
}

// TestValueSample: distinct non-empty values, trimmed, in order, until
// the limit.
func TestValueSample(t *testing.T) {
	s := NewValueSample(3)
	var more []bool
	for _, v := range []string{" a", "", "a ", "b", "  ", "c", "d"} {
		more = append(more, s.Add(v))
		if !more[len(more)-1] {
			break
		}
	}
	if strings.Join(s.Values, ",") != "a,b,c" || fmt.Sprint(more) != "[true true true true true false]" {
		t.Errorf("values %q, more %v", s.Values, more)
	}
}
