package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// IngestionTime is what partition_by names to partition a target by when
// its rows were loaded rather than by a column: BigQuery's pseudo-column.
const IngestionTime = "_PARTITIONTIME"

// Partition granularities (partition_by's granularity).
const (
	GranularityHour  = "HOUR"
	GranularityDay   = "DAY"
	GranularityMonth = "MONTH"
	GranularityYear  = "YEAR"
)

// granularities lists the partition granularities, finest first.
var granularities = []string{GranularityHour, GranularityDay, GranularityMonth, GranularityYear}

// MaxClusterColumns is how many columns cluster_by may name (BigQuery's
// limit).
const MaxClusterColumns = 4

// partitioned reports whether a design partitions its target.
func partitioned(d *warehouse.TableDesign) bool {
	return d != nil && (d.PartitionBy != "" || d.IngestionTime)
}

// designPos are the positions of a pipeline's table design values, for
// the messages of Project.Check.
type designPos struct {
	partition pos   // the partition column
	cluster   []pos // the elements of cluster_by
}

// designKeys are the pipeline keys of its table design and bytes budget.
var designKeys = []string{"partition_by", "require_partition_filter", "partition_expiration", "cluster_by", "bytes_budget"}

// design reads a pipeline's table design keys into pl.Design (nil when
// none is set) and its bytes_budget.
func (l *loader) design(f *yamlFile, o *object, pl *Pipeline) {
	var d warehouse.TableDesign
	if o.has("partition_by") {
		l.partitionBy(f, o, pl, &d)
	}
	if o.boolean("require_partition_filter", &d.RequirePartitionFilter) {
		if d.RequirePartitionFilter && !partitioned(&d) {
			o.errorf(o.valuePos("require_partition_filter"), "require_partition_filter needs partition_by (a column, or %s)", IngestionTime)
		}
	}
	if o.duration("partition_expiration", &d.PartitionExpiration) {
		switch {
		case d.PartitionExpiration > 0 && !partitioned(&d):
			o.errorf(o.valuePos("partition_expiration"), "partition_expiration needs partition_by (a column, or %s)", IngestionTime)
		case d.PartitionExpiration > 0 && d.PartitionExpiration < time.Second:
			o.errorf(o.valuePos("partition_expiration"), "partition_expiration must be 1s or more (or 0 to keep partitions), got %s", d.PartitionExpiration)
		}
	}
	if ps, ok := o.list("cluster_by", &d.ClusterBy); ok {
		pl.design.cluster = ps
		if len(d.ClusterBy) > MaxClusterColumns {
			o.errorf(ps[MaxClusterColumns], "cluster_by names %d columns, at most %d are allowed", len(d.ClusterBy), MaxClusterColumns)
		}
		seen := map[string]bool{}
		for i, c := range d.ClusterBy {
			switch {
			case !schema.ValidName(c):
				o.errorf(ps[i], "cluster_by column %q is not a valid column name: %s", c, identRule)
			case strings.EqualFold(c, IngestionTime):
				o.errorf(ps[i], "cluster_by column %q: a table cannot be clustered by its ingestion time", c)
			case seen[strings.ToLower(c)]:
				o.errorf(ps[i], "cluster_by column %q is listed twice", c)
			}
			seen[strings.ToLower(c)] = true
		}
		if len(d.ClusterBy) == 0 {
			d.ClusterBy = nil
		}
	}
	if partitioned(&d) || d.RequirePartitionFilter || d.PartitionExpiration > 0 || len(d.ClusterBy) > 0 {
		pl.Design = &d
	}
	bytesBudget(o, &pl.BytesBudget)
}

// bytesBudget reads o's bytes_budget into dst: a number of bytes, 0 for
// none.
func bytesBudget(o *object, dst *int64) {
	var n int
	if !o.integer("bytes_budget", &n) {
		return
	}
	if n < 0 {
		o.errorf(o.valuePos("bytes_budget"), "%s must be 0 (no budget) or a number of bytes, got %d", o.name("bytes_budget"), n)
		return
	}
	*dst = int64(n)
}

// partitionBy reads partition_by into d: a column (or IngestionTime) with
// the default granularity, or {column, granularity}.
func (l *loader) partitionBy(f *yamlFile, o *object, pl *Pipeline, d *warehouse.TableDesign) {
	var column, granularity string
	at := o.valuePos("partition_by")
	if _, isMap := o.entries["partition_by"].value.(*ast.MappingNode); isMap {
		m := f.object(o.node("partition_by"), o.keyPos("partition_by"), o.ctx, "partition_by.", "partition_by of "+o.ctx, "column", "granularity")
		if !m.required("column", &column) {
			return
		}
		at = m.valuePos("column")
		if m.str("granularity", &granularity) {
			g := strings.ToUpper(granularity)
			if !slices.Contains(granularities, g) {
				m.errorf(m.valuePos("granularity"), "partition_by.granularity %q is unknown (supported: %s)", granularity, strings.Join(granularities, ", "))
				return
			}
			granularity = g
		}
	} else if !o.str("partition_by", &column) {
		return
	}
	pl.design.partition = at
	switch {
	case strings.EqualFold(column, IngestionTime):
		d.IngestionTime = true
	case !schema.ValidName(column):
		o.errorf(at, "partition_by column %q is not a valid column name: %s", column, identRule)
		return
	default:
		d.PartitionBy = column
	}
	if granularity == "" {
		granularity = GranularityDay
	}
	d.Granularity = granularity
}

// partitionTypes are the column types a target may be partitioned by,
// and the granularities each allows.
var partitionTypes = map[string][]string{
	schema.TypeDate:      {GranularityDay, GranularityMonth, GranularityYear},
	schema.TypeTimestamp: granularities,
	schema.TypeDatetime:  granularities,
}

// clusterTypes are the column types a target may be clustered by.
var clusterTypes = []string{schema.TypeString, schema.TypeInt64, schema.TypeNumeric, schema.TypeBigNumeric, schema.TypeBool,
	schema.TypeDate, schema.TypeDatetime, schema.TypeTimestamp, schema.TypeGeography}

// checkDesign reports the design columns of pl that its source's schema
// sch lacks or that have a type the layout cannot use, through add.
func checkDesign(pl *Pipeline, src *Source, sch schema.Schema, add func(at pos, format string, args ...any)) {
	d := pl.Design
	if d == nil {
		return
	}
	if d.PartitionBy != "" {
		f, ok := sch.Lookup(d.PartitionBy)
		switch {
		case !ok:
			add(pl.design.partition, "pipeline %q: partition_by column %q is not in the schema of source %q (%s)%s",
				pl.Name, d.PartitionBy, src.Name, src.Schema, ingestionHint(d.PartitionBy))
		case f.Repeated() || partitionTypes[f.Type] == nil:
			add(pl.design.partition, "pipeline %q: partition_by column %q has type %s, not DATE, TIMESTAMP or DATETIME", pl.Name, f.Name, typeText(f))
		case !slices.Contains(partitionTypes[f.Type], d.Granularity):
			add(pl.design.partition, "pipeline %q: partition_by column %q is a DATE, which cannot be partitioned by %s (use DAY, MONTH or YEAR)",
				pl.Name, f.Name, d.Granularity)
		}
	}
	for i, c := range d.ClusterBy {
		var at pos
		if i < len(pl.design.cluster) {
			at = pl.design.cluster[i]
		}
		f, ok := sch.Lookup(c)
		switch {
		case !ok:
			add(at, "pipeline %q: cluster_by column %q is not in the schema of source %q (%s)", pl.Name, c, src.Name, src.Schema)
		case f.Repeated() || !slices.Contains(clusterTypes, f.Type):
			add(at, "pipeline %q: cluster_by column %q has type %s, which a table cannot be clustered by", pl.Name, f.Name, typeText(f))
		}
	}
}

// typeText names a column's type for messages: "FLOAT64", "REPEATED
// STRING".
func typeText(f schema.Field) string {
	if f.Repeated() {
		return "REPEATED " + f.Type
	}
	return f.Type
}

// ingestionHint points a column that looks like it means the load time
// to IngestionTime.
func ingestionHint(column string) string {
	switch strings.ToLower(column) {
	case "ingestion_time", "_partitiondate", "partitiontime", "load_time":
		return fmt.Sprintf("; to partition by when rows are loaded, write %s", IngestionTime)
	}
	return ""
}
