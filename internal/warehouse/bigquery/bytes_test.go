package bigquery

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/quality/qualitytest"
)

// minBilled is what BigQuery bills a query at the least (on demand):
// 10 MiB.
const minBilled = 10 << 20

// scanBytes sums what the queries of one validation would read and be
// billed, each dry-run before it runs.
type scanBytes struct {
	w                 *Warehouse
	queries           int
	processed, billed int64
}

// QueryContext dry-runs query, adds its estimate, and runs it.
func (s *scanBytes) QueryContext(ctx context.Context, query string, args ...any) (quality.Rows, error) {
	n, err := s.w.EstimateBytes(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, query)
	}
	s.queries++
	s.processed += n
	s.billed += max(n, minBilled)
	return s.w.RunQuery(ctx, query, args...)
}

// TestSharedScanBytes reports, for the 30-expectation suite of the
// quality benchmarks (qualitytest.BenchSuite), the bytes BigQuery's dry
// runs say the shared scan reads and bills against one query per
// expectation, on a table of SHP_BIGQUERY_BYTES_ROWS rows (1,000 on the
// emulator, 1,000,000 on real BigQuery). Every query is billed 10 MiB at
// the least, so the billed bytes follow the number of queries on both;
// the emulator's estimates of the bytes read are not BigQuery's
// accounting (100 bytes for 1,000 rows of seven columns), so only real
// BigQuery (SHP_TEST_BIGQUERY_PROJECT) checks those.
func TestSharedScanBytes(t *testing.T) {
	ctx := context.Background()
	rows := 1000
	if realProject() != "" {
		rows = 1_000_000
	}
	if v, err := strconv.Atoi(os.Getenv("SHP_BIGQUERY_BYTES_ROWS")); err == nil && v > 0 {
		rows = v
	}
	w := openTest(t, freshKey())
	// Every expectation of the suite holds on these rows.
	mk := fmt.Sprintf(`CREATE TABLE %s AS SELECT n AS id, ['EMEA', 'APAC', 'AMER'][OFFSET(MOD(n, 3))] AS region,
  1 + MOD(n, 20) AS qty, CAST(0.5 + MOD(n, 900) AS FLOAT64) AS price, CONCAT('SKU-', CAST(MOD(n, 100000) AS STRING)) AS sku,
  CONCAT('user', CAST(n AS STRING), '@example.com') AS email, DATE_ADD(DATE '2024-01-01', INTERVAL MOD(n, 1000) DAY) AS created
FROM UNNEST(GENERATE_ARRAY(1, %d)) AS n`, w.target("t"), rows)
	if _, err := w.exec(ctx, jobMeta{step: w.nextStep("bench")}, mk); err != nil {
		t.Fatal(err)
	}
	table := quality.Table{Name: "t", Index: "id"}
	for _, c := range []struct{ n, t string }{{"id", "INT64"}, {"region", "STRING"}, {"qty", "INT64"}, {"price", "FLOAT64"},
		{"sku", "STRING"}, {"email", "STRING"}, {"created", "DATE"}} {
		table.Columns = append(table.Columns, quality.Column{Name: c.n, Type: c.t})
	}
	suite := qualitytest.BenchSuite()
	validate := func(q *scanBytes, s *quality.Suite) {
		t.Helper()
		res, err := quality.Validate(ctx, q, quality.BigQuery, table, s, quality.Summary)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Results {
			if !r.Success {
				t.Errorf("%s failed on rows where it holds: %v %v", r.Config.Type, r.Result, r.Exception)
			}
		}
	}
	shared := &scanBytes{w: w}
	validate(shared, suite)
	naive := &scanBytes{w: w}
	for _, e := range suite.Expectations {
		validate(naive, &quality.Suite{Name: "one", Expectations: []quality.Config{e}})
	}
	t.Logf("%d-expectation suite on %d rows: shared scan %d queries, %d bytes processed, %d billed; one query per expectation %d queries, %d bytes processed, %d billed",
		len(suite.Expectations), rows, shared.queries, shared.processed, shared.billed, naive.queries, naive.processed, naive.billed)
	if naive.queries < len(suite.Expectations) || shared.queries >= naive.queries {
		t.Errorf("shared scan ran %d queries, one query per expectation %d", shared.queries, naive.queries)
	}
	if shared.billed >= naive.billed {
		t.Errorf("the shared scan is billed %d bytes, one query per expectation %d: want less", shared.billed, naive.billed)
	}
	if realProject() == "" {
		return // the emulator's estimates are not BigQuery's accounting
	}
	if shared.processed >= naive.processed || shared.billed >= naive.billed {
		t.Errorf("the shared scan reads %d bytes (billed %d), one query per expectation %d (billed %d): want fewer", shared.processed, shared.billed, naive.processed, naive.billed)
	}
}
