package bigquery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/optimize"
)

var _ optimize.Engine = (*Warehouse)(nil)

// clusterPrefix starts the undo of a clustering change: the columns the
// table was clustered by before, as JSON.
const clusterPrefix = "cluster:"

// Describe implements optimize.Engine from the table's metadata: its
// rows, bytes, columns (a NUMERIC or BIGNUMERIC with its precision and
// scale), partitioning and clustering. A BIGNUMERIC column's largest
// value is measured by one query (billed: it reads those columns), for
// the rule that narrows it.
func (w *Warehouse) Describe(ctx context.Context, table string) (optimize.Table, error) {
	name, err := w.findTable(ctx, table)
	if err != nil {
		return optimize.Table{}, fmt.Errorf("bigquery: describe %s: %w", table, err)
	}
	if name == "" {
		return optimize.Table{}, fmt.Errorf("bigquery: describe %s: no such table", table)
	}
	cctx, cancel := w.call(ctx)
	md, err := w.client.Dataset(w.cfg.Dataset).Table(name).Metadata(cctx)
	cancel()
	if err != nil {
		return optimize.Table{}, fmt.Errorf("bigquery: describe %s: %w", table, err)
	}
	t := optimize.Table{Name: name, Rows: int64(md.NumRows), Bytes: md.NumBytes}
	var big []int
	for _, f := range md.Schema {
		c := fieldOfSchema(f)
		t.Columns = append(t.Columns, optimize.Column{Name: c.Name, Type: c.typeName()})
		// Only a BIGNUMERIC a NUMERIC could hold (9 decimals at most) is
		// measured: the query is billed.
		if c.Type == "BIGNUMERIC" && c.Precision > 0 && c.Scale <= 9 {
			big = append(big, len(t.Columns)-1)
		}
	}
	if tp := md.TimePartitioning; tp != nil {
		t.Layout.PartitionBy = tp.Field
		if t.Layout.PartitionBy == "" {
			t.Layout.PartitionBy = "_PARTITIONTIME"
		}
	}
	if md.Clustering != nil {
		t.Layout.ClusterBy = append([]string(nil), md.Clustering.Fields...)
	}
	if len(big) == 0 || t.Rows == 0 {
		return t, nil
	}
	items := make([]string, len(big))
	for i, col := range big {
		items[i] = "CAST(MAX(ABS(" + ident(t.Columns[col].Name) + ")) AS STRING)"
	}
	rows, _, err := w.queryRows(ctx, jobMeta{step: w.nextStep("describe")}, "SELECT "+strings.Join(items, ", ")+" FROM "+w.target(name))
	if err != nil {
		return t, fmt.Errorf("bigquery: measure the BIGNUMERIC columns of %s: %w", table, err)
	}
	if len(rows) == 1 {
		for i, col := range big {
			if rows[0][i] == nil {
				continue // no value yet: nothing says how wide they are
			}
			n := optimize.IntegerDigits(str(rows[0][i]))
			t.Columns[col].IntDigits = &n
		}
	}
	return t, nil
}

// errRewrite says why BigQuery changes other than clustering are not
// made in place: they rewrite the table.
const errRewrite = "a BigQuery table's partitioning, and a column's narrower type, change only by writing the table anew " +
	"(billed, and with its descriptions, labels and streaming buffer to carry over); shp does not rewrite a target: " +
	"set partition_by (and cluster_by) in the pipeline's table design and create the target anew (see Table design)"

// Trial implements optimize.Engine. Clustering is not tried on a copy:
// it changes the table's metadata only (rows written from then on are
// clustered; those already there keep their layout until written
// again), a dry run cannot show what it saves, and a trial would bill two
// copies of the table and every replayed query on each. It is proposed
// untried: apply it, and the queries' bytes billed (shp optimize
// analyze) show the gain, or revert it.
func (w *Warehouse) Trial(ctx context.Context, table string, change optimize.Change, queries []string) ([]optimize.Timing, error) {
	if err := checkClustering(change); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("bigquery: %s: %w: clustering changes only the table's metadata (rows written from then on are clustered) "+
		"and a dry run does not show what it saves; applied, the queries' bytes billed show it, and a revert undoes it", change, optimize.ErrUntried)
}

// checkClustering refuses what BigQuery does not change in place.
func checkClustering(c optimize.Change) error {
	switch {
	case c.Kind != "cluster":
		return fmt.Errorf("bigquery: %s: %w (%s)", c, optimize.ErrUnsupported, errRewrite)
	case len(c.Columns) == 0 || len(c.Columns) > 4:
		return fmt.Errorf("bigquery: %s: %w (BigQuery clusters by 1 to 4 columns)", c, optimize.ErrUnsupported)
	}
	return nil
}

// Apply implements optimize.Engine: the table's clustering is set to the
// change's columns by a metadata patch, guarded by the table's etag (a
// change made meanwhile fails it). Rows are clustered as they are
// written from then on; the rows already there keep their layout until
// written again. The undo keeps the columns it was clustered by (none
// included).
func (w *Warehouse) Apply(ctx context.Context, table string, change optimize.Change) (string, error) {
	if err := checkClustering(change); err != nil {
		return "", err
	}
	name, md, err := w.tableMetadata(ctx, table)
	if err != nil {
		return "", err
	}
	cols := make([]string, len(change.Columns))
	for i, want := range change.Columns {
		f := fieldNamed(md.Schema, want)
		if f == nil {
			return "", fmt.Errorf("bigquery: cluster %s by %s: the table has no such column", table, want)
		}
		cols[i] = f.Name
	}
	var was []string
	if md.Clustering != nil {
		was = md.Clustering.Fields
	}
	undo, _ := json.Marshal(append([]string{}, was...))
	if err := w.setClustering(ctx, name, cols, md.ETag); err != nil {
		return "", fmt.Errorf("bigquery: cluster %s by %s: %w", table, strings.Join(cols, ", "), err)
	}
	return clusterPrefix + string(undo), nil
}

// Revert implements optimize.Engine: the table is clustered as it was
// (or not at all).
func (w *Warehouse) Revert(ctx context.Context, table, undo string) error {
	doc, ok := strings.CutPrefix(undo, clusterPrefix)
	var was []string
	if !ok || json.Unmarshal([]byte(doc), &was) != nil || len(was) > 4 {
		return fmt.Errorf("bigquery: revert the clustering of %s: %q is not what Apply returned", table, undo)
	}
	name, md, err := w.tableMetadata(ctx, table)
	if err != nil {
		return err
	}
	if err := w.setClustering(ctx, name, was, md.ETag); err != nil {
		return fmt.Errorf("bigquery: revert the clustering of %s: %w", table, err)
	}
	return nil
}

// tableMetadata finds a target by its name ignoring case and reads its
// metadata.
func (w *Warehouse) tableMetadata(ctx context.Context, table string) (string, *bq.TableMetadata, error) {
	name, err := w.findTable(ctx, table)
	if err != nil {
		return "", nil, fmt.Errorf("bigquery: %s: %w", table, err)
	}
	if name == "" {
		return "", nil, fmt.Errorf("bigquery: %s: no such table", table)
	}
	cctx, cancel := w.call(ctx)
	defer cancel()
	md, err := w.client.Dataset(w.cfg.Dataset).Table(name).Metadata(cctx)
	if err != nil {
		return "", nil, fmt.Errorf("bigquery: %s: %w", table, err)
	}
	return name, md, nil
}

// setClustering patches a table's clustering columns (none: unclustered).
func (w *Warehouse) setClustering(ctx context.Context, table string, cols []string, etag string) error {
	cctx, cancel := w.call(ctx)
	defer cancel()
	_, err := w.client.Dataset(w.cfg.Dataset).Table(table).Update(cctx, bq.TableMetadataToUpdate{Clustering: &bq.Clustering{Fields: cols}}, etag)
	return err
}

// fieldNamed finds a top-level field by its name ignoring case.
func fieldNamed(s bq.Schema, name string) *bq.FieldSchema {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}
