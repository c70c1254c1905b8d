package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type queryStore interface {
	AddOptimization(ctx context.Context, o Optimization) (int64, error)
	GetOptimization(ctx context.Context, id int64) (Optimization, error)
	ListOptimizations(ctx context.Context, table string) ([]Optimization, error)
	DecideOptimization(ctx context.Context, id int64, from, to, undo, by, reason string, at time.Time) error
	RecordQuery(ctx context.Context, q QueryRecord) (int64, error)
	RecordQueries(ctx context.Context, qs []QueryRecord) error
	ListQueries(ctx context.Context, f QueryFilter) ([]QueryRecord, error)
	PruneQueries(ctx context.Context, before time.Time) (int64, error)
}

func TestQueryHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		qs, ok := s.(queryStore)
		if !ok {
			t.Fatal("the store keeps no query history")
		}
		at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
		for i, r := range []QueryRecord{
			{At: at, Source: "user", Text: "SELECT 1", Fingerprint: "f1", Duration: 1500 * time.Microsecond, Rows: 1},
			{At: at.Add(time.Minute), Source: "shp", Pipeline: "sales", RunID: "r1", Text: "INSERT ...", Fingerprint: "f2", Rows: 10, BytesScanned: 4096},
			{At: at.Add(2 * time.Minute), Source: "import", Text: "SELECT * FROM t WHERE a = $1", Fingerprint: "f3", Calls: 42, Duration: time.Second},
			{At: at.Add(3 * time.Minute), Source: "user", Text: "SELEC 1", Fingerprint: "f4", Error: "syntax error"},
		} {
			id, err := qs.RecordQuery(ctx, r)
			mustNil(t, err)
			if id != int64(i+1) {
				t.Errorf("record %d has id %d", i, id)
			}
		}
		if _, err := qs.RecordQuery(ctx, QueryRecord{Source: "user"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a record without text: %v", err)
		}
		all, err := qs.ListQueries(ctx, QueryFilter{})
		mustNil(t, err)
		if len(all) != 4 || all[0].Fingerprint != "f4" || all[0].Error != "syntax error" || all[3].Duration != 1500*time.Microsecond ||
			all[1].Calls != 42 || all[2].BytesScanned != 4096 || all[2].Pipeline != "sales" || all[2].RunID != "r1" || all[3].Calls != 1 ||
			!all[3].At.Equal(at) {
			t.Errorf("records %+v", all)
		}
		mine, err := qs.ListQueries(ctx, QueryFilter{ExceptSource: "shp"})
		mustNil(t, err)
		if len(mine) != 3 || mine[0].Fingerprint != "f4" || mine[1].Fingerprint != "f3" || mine[2].Fingerprint != "f1" {
			t.Errorf("all but shp's own: %+v", mine)
		}
		// A run's statements in one transaction: all or none.
		if err := qs.RecordQueries(ctx, []QueryRecord{{At: at, Source: "shp", Text: "SELECT 2", Fingerprint: "f5"}, {Source: "shp"}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a batch with a bad record: %v", err)
		}
		mustNil(t, qs.RecordQueries(ctx, []QueryRecord{
			{At: at.Add(100 * time.Second), Source: "shp", Pipeline: "sales", RunID: "r0", Text: "COPY", Fingerprint: "f6", Calls: 3},
			{At: at.Add(100 * time.Second), Source: "shp", Pipeline: "sales", RunID: "r0", Text: "MERGE", Fingerprint: "f7"},
		}))
		own, err := qs.ListQueries(ctx, QueryFilter{Source: "shp"})
		mustNil(t, err)
		if len(own) != 3 || own[0].Fingerprint != "f7" || own[1].Fingerprint != "f6" || own[1].Calls != 3 || own[2].Fingerprint != "f2" {
			t.Errorf("shp's own: %+v", own)
		}
		recent, err := qs.ListQueries(ctx, QueryFilter{Since: at.Add(90 * time.Second), Limit: 1})
		mustNil(t, err)
		if len(recent) != 1 || recent[0].Fingerprint != "f4" {
			t.Errorf("the newest since 05:01:30: %+v", recent)
		}
		n, err := qs.PruneQueries(ctx, at.Add(90*time.Second))
		mustNil(t, err)
		if n != 2 {
			t.Errorf("pruned %d", n)
		}

		// Optimizations: proposed, then applied once, then reverted.
		id, err := qs.AddOptimization(ctx, Optimization{CreatedAt: at, Table: "sales", Rule: "cluster", Change: `{"kind":"sort"}`, Status: "proposed"})
		mustNil(t, err)
		_, err = qs.AddOptimization(ctx, Optimization{CreatedAt: at, Table: "events", Rule: "partition", Change: `{}`, Status: "declined", Reason: "no gain"})
		mustNil(t, err)
		if _, err := qs.AddOptimization(ctx, Optimization{Table: "x"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("an optimization without a rule: %v", err)
		}
		mustNil(t, qs.DecideOptimization(ctx, id, "proposed", "applied", "__before:10", "ana", "", at.Add(time.Hour)))
		if err := qs.DecideOptimization(ctx, id, "proposed", "applied", "", "bo", "", at); !errors.Is(err, ErrInvalid) {
			t.Errorf("a second apply: %v", err)
		}
		if err := qs.DecideOptimization(ctx, 999, "proposed", "applied", "", "bo", "", at); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unknown optimization: %v", err)
		}
		o, err := qs.GetOptimization(ctx, id)
		mustNil(t, err)
		if o.Status != "applied" || o.Undo != "__before:10" || o.DecidedBy != "ana" || !o.DecidedAt.Equal(at.Add(time.Hour)) || o.Detail != "{}" {
			t.Errorf("applied optimization %+v", o)
		}
		list, err := qs.ListOptimizations(ctx, "")
		mustNil(t, err)
		if len(list) != 2 || list[0].Table != "events" || list[0].Reason != "no gain" {
			t.Errorf("optimizations %+v", list)
		}
		if list, err := qs.ListOptimizations(ctx, "sales"); err != nil || len(list) != 1 {
			t.Errorf("optimizations of sales %+v %v", list, err)
		}

		// One applied change per table, whoever decides: a second is
		// refused, naming the first; another table's is not.
		second, err := qs.AddOptimization(ctx, Optimization{CreatedAt: at, Table: "sales", Rule: "cluster", Change: `{"kind":"index"}`, Status: "proposed"})
		mustNil(t, err)
		err = qs.DecideOptimization(ctx, second, "proposed", "applied", "index:x", "policy", "", at)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("#%d is applied to sales", id)) {
			t.Errorf("a second applied change on sales: %v", err)
		}
		if o, _ := qs.GetOptimization(ctx, second); o.Status != "proposed" {
			t.Errorf("the refused change is %s", o.Status)
		}
		// The unique index holds it even when the check is skipped (two
		// deciding at once).
		if _, err := s.(*sqlStore).exec(ctx, `UPDATE optimizations SET status = 'applied' WHERE id = ?`, second); err == nil {
			t.Error("two applied changes on one table were stored")
		}
		other, err := qs.AddOptimization(ctx, Optimization{CreatedAt: at, Table: "events", Rule: "cluster", Change: `{"kind":"index"}`, Status: "proposed"})
		mustNil(t, err)
		mustNil(t, qs.DecideOptimization(ctx, other, "proposed", "applied", "index:y", "policy", "", at))
		// Reverted, the table takes another.
		mustNil(t, qs.DecideOptimization(ctx, id, "applied", "reverted", "", "ana", "why", at))
		mustNil(t, qs.DecideOptimization(ctx, second, "proposed", "applied", "index:x", "policy", "", at))
	})
}
