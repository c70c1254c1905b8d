// Package sample writes shp's sample project: a config folder and five days
// of sales CSV files with the defects real feeds have (a malformed row, a
// value that does not parse, a non-UTF-8 byte, a new column, a corrected
// order sent twice, regions written by hand, dates written day first),
// with a quality rule and a self-healing policy that repairs what can be
// repaired. `shp init` writes it, and examples/quickstart is a copy.
package sample

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Days is how many daily files the sample has; RowsPerDay how many orders each.
const (
	Days       = 5
	RowsPerDay = 750
)

// Files returns the sample project's files, path → content.
func Files() map[string][]byte {
	files := map[string][]byte{
		"config.yaml":               []byte(configYAML),
		"sources.yaml":              []byte(sourcesYAML),
		"quality_rules.yaml":        []byte(qualityRulesYAML),
		"self_healing.yaml":         []byte(selfHealingYAML),
		"schemas/sales_schema.json": []byte(schemaJSON),
		".gitignore":                []byte(".shp/\n"),
	}
	rng := rand.New(rand.NewPCG(20260101, 7))
	id := 100000
	var firstDayOrder string
	for day := 1; day <= Days; day++ {
		var b strings.Builder
		header := "order_id,order_date,customer_id,product,quantity,unit_price,region"
		if day >= 4 {
			header += ",discount" // schema drift: a column the schema does not know
		}
		b.WriteString(header + "\n")
		for i := 0; i < RowsPerDay; i++ {
			id++
			date := fmt.Sprintf("2026-01-%02d", day)
			if day == 5 {
				// A feed that switched to day-first dates, with late orders
				// from earlier days: 28/12/2025 shows which is the day.
				back := []int{0, 0, 0, 0, 1, 2, 8}[rng.IntN(7)]
				date = time.Date(2026, 1, 5-back, 0, 0, 0, 0, time.UTC).Format("02/01/2006")
			}
			row := fmt.Sprintf("%d,%s,C%05d,%s,%d,%.2f,%s",
				id, date, rng.IntN(5000), products[rng.IntN(len(products))], 1+rng.IntN(9),
				2+rng.Float64()*200, regions[rng.IntN(len(regions))])
			if day == 1 && i == 10 {
				firstDayOrder = row
			}
			switch {
			case day == 2 && i == 100:
				row = fmt.Sprintf("%d,2026-01-02,C00042,%s", id, products[0]) // malformed: too few fields
			case day == 2 && i == 200:
				row = fmt.Sprintf("%d,2026-01-02,C\xe9z%03d,\"Caf\xe9 blend\",2,12.50,EMEA", id, i) // Latin-1, not UTF-8
			case day == 3 && i == 50:
				row = fmt.Sprintf("%d,2026-01-03,C01234,%s,two,19.99,APAC", id, products[1]) // quantity does not parse
			case day == 3 && i == 300:
				row = fmt.Sprintf("%d,2026-02-30,C01235,%s,1,19.99,APAC", id, products[2]) // no such date
			case day == 3 && i == 400:
				// A corrected copy of a day-1 order: same key, new quantity.
				parts := strings.Split(firstDayOrder, ",")
				parts[4] = "7"
				row = strings.Join(parts, ",")
				id--
			}
			if day >= 4 {
				if day == 4 && i%150 == 7 {
					// A feed that started writing regions by hand: " emea", "Apac".
					parts := strings.Split(row, ",")
					parts[6] = sloppy[(i/150)%len(sloppy)]
					row = strings.Join(parts, ",")
				}
				row += fmt.Sprintf(",%.2f", rng.Float64()*0.2)
			}
			b.WriteString(row + "\n")
		}
		files[fmt.Sprintf("data/sales_2026-01-%02d.csv", day)] = []byte(b.String())
	}
	return files
}

// Write writes the sample project into dir, refusing to overwrite files.
func Write(dir string) error {
	for name, content := range Files() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists; choose an empty directory", p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

var (
	products = []string{"espresso-beans", "green-tea", "oolong", "moka-pot", "grinder", "filter-papers", "mug"}
	regions  = []string{"EMEA", "APAC", "AMER"}
	sloppy   = []string{" emea", "Apac", "amer ", "EMEA "}
)

const qualityRulesYAML = `# Data quality rules attach Great Expectations suites to pipelines (see README).
pipelines:
  sales:
    rules:
      - expectation: expect_column_values_to_be_in_set
        kwargs: {column: region, value_set: [EMEA, APAC, AMER]}
        action: fail                 # a region outside the set stops the load...
`

const selfHealingYAML = `# Self-healing policies (see README). A failed rule stops the load unless the
# engine can repair it; what it may do without a person is listed here.
confidence_threshold: 0.9            # actions below it wait for shp healing approve
auto_approve:
  - normalize_to_value_set           # " emea" -> EMEA (day 4)
  - quarantine_duplicates
  - add_nullable_column              # the discount column that appears on day 4
  - parse_date_format                # day 5 writes dates as 28/12/2025
  - transcode_encoding               # the Latin-1 line of day 2
  - parse_epoch
  - parse_number_format
  - widen_type
  - read_null_tokens                 # NA, N/A, NULL, #N/A, - in a typed column that may hold NULL
`

const configYAML = `# shp project configuration. Paths are relative to this folder.
project: quickstart

staging:
  url: file://.shp/staging          # raw input files are kept here for replay (gs://bucket/prefix on GCP)

warehouse:
  type: duckdb
  path: .shp/warehouse.duckdb

metadata:
  type: sqlite                      # or postgres with dsn: ${SHP_METADATA_DSN}
  path: .shp/metadata.db

defaults:
  max_quarantine_ratio: 0.05        # a run fails when more than 5% of its rows cannot be loaded

pipelines:
  sales:
    description: Daily sales orders, upserted by order id
    source: sales_data
    target: sales
    mode: merge
    key: [order_id]
`

const sourcesYAML = `sources:
  sales_data:
    type: file
    path: data/sales_*.csv
    format: csv
    schedule: 0 2 * * *  # Daily at 2 AM
    schema: schemas/sales_schema.json
`

const schemaJSON = `[
  {"name": "order_id", "type": "INTEGER", "mode": "REQUIRED"},
  {"name": "order_date", "type": "DATE", "mode": "REQUIRED"},
  {"name": "customer_id", "type": "STRING"},
  {"name": "product", "type": "STRING"},
  {"name": "quantity", "type": "INTEGER"},
  {"name": "unit_price", "type": "NUMERIC", "precision": "12", "scale": "2"},
  {"name": "region", "type": "STRING"}
]
`
