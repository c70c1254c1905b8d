package optimize

import (
	"fmt"
	"slices"
	"strings"
)

// selectStarRule finds recurring queries that select every column of a
// table of which some columns no recorded query names: the columnar
// engines (DuckDB, BigQuery) read, and BigQuery bills, only the columns
// a query names, so naming the used ones reads less. It is advice for
// the queries' authors: there is no change to the table to try or apply.
type selectStarRule struct{}

func init() { Register(selectStarRule{}) }

func (selectStarRule) Name() string { return "select_star" }

// selectStarShare is the part of a table's queries that must select
// every column for the rule to speak.
const selectStarShare = 0.2

func (selectStarRule) Recommend(in Input) []Recommendation {
	u := in.Usage
	if u.SelectStar == 0 || u.Share(u.SelectStar) < selectStarShare {
		return nil
	}
	var unused []string
	for _, c := range in.Table.Columns {
		if u.NamedFold(c.Name) == 0 {
			unused = append(unused, c.Name)
		}
	}
	if len(unused) == 0 {
		return nil // every column is used somewhere: * may be what they need
	}
	slices.Sort(unused)
	benefit := "the queries read only the columns they name: "
	switch in.Warehouse {
	case "bigquery":
		benefit += "BigQuery bills the bytes of the columns a query names, so naming the used ones bills less"
	case "duckdb":
		benefit += "DuckDB stores each column apart and reads none that a query does not name"
	default:
		benefit += "less to read out of each row and to send"
	}
	var top string
	for _, sh := range u.Top {
		if sh.Query.SelectStar {
			top = clipText(sh.Normalized, 160)
			break
		}
	}
	ev := []string{
		fmt.Sprintf("%s of %d queries select every column (%d runs)", pct(u.Share(u.SelectStar)), u.Queries, u.SelectStar),
		fmt.Sprintf("%d of the table's %d columns are named by no recorded query: %s", len(unused), len(in.Table.Columns), strings.Join(unused, ", ")),
	}
	if top != "" {
		ev = append(ev, "the slowest of them: "+top)
	}
	return []Recommendation{{
		Rule: "select_star", Table: in.Table.Name, Change: Change{Kind: "advice", Columns: unused},
		Evidence: ev,
		Benefit:  benefit,
		Risk:     "none to the table: the queries change, by their owners; a query that needs a column added later must name it",
	}}
}
