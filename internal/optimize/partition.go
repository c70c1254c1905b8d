package optimize

import (
	"fmt"
	"strings"
)

// partitionRule partitions a table by the date or timestamp column most
// of its queries filter by range, so that they read only the partitions
// in range: BigQuery PARTITION BY (requiring a partition filter when
// every query has one), PostgreSQL declarative range partitions.
// DuckDB has no partitions: the sort rule orders its table instead.
type partitionRule struct{}

func init() { Register(partitionRule{}) }

func (partitionRule) Name() string { return "partition" }

func (partitionRule) Recommend(in Input) []Recommendation {
	if in.Warehouse != "bigquery" && in.Warehouse != "postgres" {
		return nil
	}
	u := in.Usage
	var col string
	for _, c := range u.ranked(u.Range, in.Options.PartitionShare) {
		if isTemporal(in.Table.ColumnType(c)) {
			col = c
			break
		}
	}
	if col == "" || strings.EqualFold(in.Table.Layout.PartitionBy, col) {
		return nil
	}
	share := u.Share(u.Range[col])
	ch := Change{Kind: "partition", Columns: []string{col}, Granularity: "DAY"}
	if in.Warehouse == "postgres" {
		ch.Granularity = "MONTH"
	}
	// Every query of the table filters by the column: queries that do not
	// can be refused (BigQuery only).
	if in.Warehouse == "bigquery" && u.Range[col]+u.Equality[col] >= u.Queries {
		ch.RequireFilter = true
	}
	return []Recommendation{{
		Rule: "partition", Table: in.Table.Name, Change: ch,
		Evidence: []string{fmt.Sprintf("%s of %d queries (%d shapes) filter %s by range", pct(share), u.Queries, u.Shapes, col),
			fmt.Sprintf("%s is %s; the table has %d rows", col, in.Table.ColumnType(col), in.Table.Rows)},
		Benefit: "queries with a range on " + col + " read only the partitions in range",
		Risk:    "queries without a filter on " + col + " read every partition; rewriting the table takes a copy of it",
	}}
}
