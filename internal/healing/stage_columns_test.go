package healing

import (
	"context"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func TestNameSimilarity(t *testing.T) {
	cases := []struct {
		a, b     string
		min, max float64
	}{
		{"customer_id", "CustomerID", 1, 1},
		{"customer_id", "customer-id", 1, 1},
		{"cust_id", "customer_id", 0.8, 1},
		{"qty", "quantity", 0.8, 1},
		{"order_date", "orderDate", 1, 1},
		{"amount", "amount_eur", 0.5, 0.9},
		{"city", "town", 0, 0.3},
		{"city", "channel", 0, 0.3},
		{"region", "zone", 0, 0.4},
		{"", "x", 0, 0},
	}
	for _, c := range cases {
		if got := nameSimilarity(c.a, c.b); got < c.min || got > c.max {
			t.Errorf("nameSimilarity(%q, %q) = %.2f, want %.2f..%.2f", c.a, c.b, got, c.min, c.max)
		}
	}
}

// TestRenamePairs: renames are found among several columns gone and
// several new, by name or by values; a new column that matches nothing
// is left to be added, a gone column that matches nothing to be reported.
func TestRenamePairs(t *testing.T) {
	sch := schema.Schema{{Name: "id", Type: "INT64"}, {Name: "city", Type: "STRING"}, {Name: "amount", Type: "NUMERIC"},
		{Name: "order_date", Type: "DATE"}, {Name: "region", Type: "STRING"}}
	cases := []struct {
		name    string
		missing []string
		extra   []schema.Field
		ins     fakeInspector
		want    string // from>to pairs
	}{
		{"one for one, nothing alike", []string{"city"}, []schema.Field{{Name: "town", Type: "STRING"}}, fakeInspector{"overlap:town>city": {"0"}}, "town>city"},
		{"one for one, types do not fit", []string{"order_date"}, []schema.Field{{Name: "flag", Type: "BOOL"}}, nil, ""},
		{"rename and a new column, by values", []string{"city"}, []schema.Field{{Name: "town", Type: "STRING"}, {Name: "channel", Type: "STRING"}},
			fakeInspector{"overlap:town>city": {"0.95"}, "overlap:channel>city": {"0"}}, "town>city"},
		{"rename and a new column, by name", []string{"order_date"}, []schema.Field{{Name: "orderDate", Type: "DATE"}, {Name: "channel", Type: "STRING"}},
			fakeInspector{"overlap:orderDate>order_date": {"0"}, "overlap:channel>order_date": {"0"}}, "orderDate>order_date"},
		{"two renames and a removal", []string{"city", "amount", "region"},
			[]schema.Field{{Name: "amount_eur", Type: "NUMERIC"}, {Name: "town", Type: "STRING"}, {Name: "note", Type: "STRING"}},
			fakeInspector{"overlap:town>city": {"0.8"}, "overlap:note>city": {"0.1"}, "overlap:town>region": {"0"}, "overlap:note>region": {"0"},
				"overlap:amount_eur>city": {"0"}, "overlap:amount_eur>region": {"0"}, "overlap:town>amount": {"0"}, "overlap:note>amount": {"0"}},
			"amount_eur>amount,town>city"},
		{"new columns only", nil, []schema.Field{{Name: "channel", Type: "STRING"}}, nil, ""},
		{"a column gone, nothing alike among several", []string{"city"}, []schema.Field{{Name: "channel", Type: "STRING"}, {Name: "score", Type: "FLOAT64"}},
			fakeInspector{"overlap:channel>city": {"0"}, "overlap:score>city": {"0.1"}}, ""},
		{"a first load: nothing to compare with, a person decides (the closer name first)", []string{"city"}, []schema.Field{{Name: "town", Type: "STRING"}, {Name: "channel", Type: "STRING"}},
			fakeInspector{}, "channel>city"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ins := c.ins
			if ins == nil {
				ins = fakeInspector{}
			}
			env := &StageEnv{Spec: warehouse.LoadSpec{ObjectKey: "f.csv", Schema: sch}, Staged: &warehouse.Staged{Missing: c.missing, Extra: c.extra}, Inspect: ins}
			pairs, err := env.renamePairs(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pairs {
				got = append(got, p.from+">"+p.to)
			}
			if g := strings.Join(sortedCopy(got), ","); g != c.want {
				t.Fatalf("pairs %s, want %s", g, c.want)
			}
			// The rest of the drift goes to the other strategies.
			add, err := addNullableColumn{}.Plan(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pairs {
				if add != nil && strings.Contains(add.Subject, p.from+" ") {
					t.Errorf("%s is both renamed and added: %s", p.from, add.Subject)
				}
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestRemovedColumnHoldsWhenItHadValues: a column gone from a feed holds
// the commit when recent batches had values in it and the policy holds
// removals; otherwise it is escalated and the batch goes on.
func TestRemovedColumnHoldsWhenItHadValues(t *testing.T) {
	cases := []struct {
		name      string
		filled    int
		hold      bool
		replay    bool
		wantHold  bool
		wantWords string
	}{
		{"had values, policy holds", 3, true, false, true, "had values in recent batches"},
		{"had values, policy allows removals", 3, false, false, false, "restore the column"},
		{"never had values", 0, true, false, false, "restore the column"},
		{"a full refresh reads an older object", 3, true, true, false, "restore the column"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := &StageEnv{Spec: warehouse.LoadSpec{ObjectKey: "f.csv", Schema: schema.Schema{{Name: "city", Type: "STRING"}}},
				Staged: &warehouse.Staged{Missing: []string{"city"}}, Inspect: fakeInspector{}, HoldRemoved: c.hold, Replay: c.replay,
				RecentlyFilled: func(_ context.Context, col string) (int, error) {
					if col != "city" {
						t.Fatalf("asked about %s", col)
					}
					return c.filled, nil
				}}
			p, err := reportRemovedColumn{}.Plan(context.Background(), env)
			if err != nil || p == nil {
				t.Fatalf("plan %v %v", p, err)
			}
			if p.Approval != c.wantHold || p.Accept != c.wantHold || (p.Escalate == "") != c.wantHold {
				t.Fatalf("approval %v accept %v escalate %q", p.Approval, p.Accept, p.Escalate)
			}
			if !strings.Contains(p.Description+p.Escalate, c.wantWords) {
				t.Fatalf("says %q %q", p.Description, p.Escalate)
			}
		})
	}
}
