package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/warehouse"
)

// TestTableDesign reads the table design and bytes budget keys of a
// pipeline in each of their shapes.
func TestTableDesign(t *testing.T) {
	tests := []struct {
		name     string
		config   string // appended to okConfig: keys of pipeline p1
		defaults string // a defaults section, before pipelines
		want     *warehouse.TableDesign
		budget   int64
	}{
		{"none", "", "", nil, 0},
		{"column", "    partition_by: ordered_at\n", "",
			&warehouse.TableDesign{PartitionBy: "ordered_at", Granularity: GranularityDay}, 0},
		{"column and granularity", "    partition_by: {column: ordered_at, granularity: month}\n", "",
			&warehouse.TableDesign{PartitionBy: "ordered_at", Granularity: GranularityMonth}, 0},
		{"block mapping", "    partition_by:\n      column: ordered_at\n      granularity: HOUR\n", "",
			&warehouse.TableDesign{PartitionBy: "ordered_at", Granularity: GranularityHour}, 0},
		{"ingestion time", "    partition_by: _PARTITIONTIME\n", "",
			&warehouse.TableDesign{IngestionTime: true, Granularity: GranularityDay}, 0},
		{"ingestion time by the hour", "    partition_by: {column: _partitiontime, granularity: hour}\n", "",
			&warehouse.TableDesign{IngestionTime: true, Granularity: GranularityHour}, 0},
		{"everything", "    partition_by: day\n    require_partition_filter: true\n    partition_expiration: 720h\n" +
			"    cluster_by: [region, customer_id]\n    bytes_budget: 10737418240\n", "",
			&warehouse.TableDesign{PartitionBy: "day", Granularity: GranularityDay, RequirePartitionFilter: true,
				PartitionExpiration: 720 * time.Hour, ClusterBy: []string{"region", "customer_id"}}, 10 << 30},
		{"cluster only, one column", "    cluster_by: region\n", "", &warehouse.TableDesign{ClusterBy: []string{"region"}}, 0},
		{"four clusters", "    cluster_by: [a, b, c, d]\n", "", &warehouse.TableDesign{ClusterBy: []string{"a", "b", "c", "d"}}, 0},
		{"false and zero set nothing", "    require_partition_filter: false\n    partition_expiration: 0s\n    cluster_by: []\n", "", nil, 0},
		{"null keys", "    partition_by:\n    cluster_by:\n    bytes_budget:\n", "", nil, 0},
		{"budget from defaults", "", "defaults:\n  bytes_budget: 1000\n", nil, 1000},
		{"pipeline budget wins", "    bytes_budget: 5\n", "defaults:\n  bytes_budget: 1000\n", nil, 5},
		{"pipeline turns the budget off", "    bytes_budget: 0\n", "defaults:\n  bytes_budget: 1000\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"config.yaml": tt.defaults + okConfig + tt.config, "sources.yaml": okSource})
			p, err := LoadDir(dir, noEnv)
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			pl := p.Config.Pipelines["p1"]
			if !reflect.DeepEqual(pl.Design, tt.want) {
				t.Errorf("Design = %+v, want %+v", pl.Design, tt.want)
			}
			if pl.BytesBudget != tt.budget {
				t.Errorf("BytesBudget = %d, want %d", pl.BytesBudget, tt.budget)
			}
		})
	}
}

// TestTableDesignErrors: every wrong design key is reported at its value
// with the pipeline's name.
func TestTableDesignErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"granularity", "    partition_by: {column: d, granularity: week}\n",
			`config.yaml:5:44: pipeline "p1": partition_by.granularity "week" is unknown (supported: HOUR, DAY, MONTH, YEAR)`},
		{"mapping without column", "    partition_by: {granularity: DAY}\n",
			`config.yaml:5:5: pipeline "p1": missing required key "partition_by.column"`},
		{"unknown partition key", "    partition_by: {column: d, every: DAY}\n",
			`config.yaml:5:31: unknown key "every" in partition_by of pipeline "p1"`},
		{"partition column name", "    partition_by: order date\n",
			`config.yaml:5:19: pipeline "p1": partition_by column "order date" is not a valid column name: use letters, digits and "_", not starting with a digit`},
		{"partition list", "    partition_by: [a, b]\n",
			`config.yaml:5:19: pipeline "p1": partition_by must be a string, got a list`},
		{"filter without partitioning", "    require_partition_filter: true\n",
			`config.yaml:5:31: pipeline "p1": require_partition_filter needs partition_by (a column, or _PARTITIONTIME)`},
		{"filter not a bool", "    partition_by: d\n    require_partition_filter: yes\n",
			`config.yaml:6:31: pipeline "p1": require_partition_filter must be true or false, got "yes"`},
		{"expiration without partitioning", "    partition_expiration: 24h\n",
			`config.yaml:5:27: pipeline "p1": partition_expiration needs partition_by (a column, or _PARTITIONTIME)`},
		{"expiration in days", "    partition_by: d\n    partition_expiration: 30d\n",
			`config.yaml:6:27: pipeline "p1": partition_expiration "30d" is not a duration (use a number and a unit, such as 30s, 5m or 1h)`},
		{"expiration below a second", "    partition_by: d\n    partition_expiration: 10ms\n",
			`config.yaml:6:27: pipeline "p1": partition_expiration must be 1s or more (or 0 to keep partitions), got 10ms`},
		{"five clusters", "    cluster_by: [a, b, c, d, e]\n",
			`config.yaml:5:30: pipeline "p1": cluster_by names 5 columns, at most 4 are allowed`},
		{"duplicate cluster", "    cluster_by: [region, Region]\n",
			`config.yaml:5:26: pipeline "p1": cluster_by column "Region" is listed twice`},
		{"cluster column name", "    cluster_by: [ok, 2x]\n",
			`config.yaml:5:22: pipeline "p1": cluster_by column "2x" is not a valid column name: use letters, digits and "_", not starting with a digit`},
		{"cluster by ingestion time", "    cluster_by: [_PARTITIONTIME]\n",
			`config.yaml:5:18: pipeline "p1": cluster_by column "_PARTITIONTIME": a table cannot be clustered by its ingestion time`},
		{"cluster mapping", "    cluster_by: {a: 1}\n",
			`config.yaml:5:17: pipeline "p1": cluster_by must be a list of strings, got a mapping`},
		{"budget negative", "    bytes_budget: -1\n",
			`config.yaml:5:19: pipeline "p1": bytes_budget must be 0 (no budget) or a number of bytes, got -1`},
		{"budget as a size", "    bytes_budget: 10GiB\n",
			`config.yaml:5:19: pipeline "p1": bytes_budget must be an integer, got "10GiB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"config.yaml": okConfig + tt.config, "sources.yaml": okSource})
			_, err := LoadDir(dir, noEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("LoadDir error =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
	dir := writeProject(t, map[string]string{"config.yaml": "defaults:\n  bytes_budget: -5\n" + okConfig, "sources.yaml": okSource})
	want := `config.yaml:2:17: defaults.bytes_budget must be 0 (no budget) or a number of bytes, got -5`
	if _, err := LoadDir(dir, noEnv); err == nil || err.Error() != want {
		t.Errorf("LoadDir error =\n%v\nwant\n%s", err, want)
	}
}

// TestCheckTableDesign: Project.Check finds the design's columns in the
// source's schema, with a type the layout can use.
func TestCheckTableDesign(t *testing.T) {
	const sch = `[
  {"name": "id", "type": "INTEGER"},
  {"name": "day", "type": "DATE"},
  {"name": "at", "type": "TIMESTAMP"},
  {"name": "price", "type": "FLOAT"},
  {"name": "tags", "type": "STRING", "mode": "REPEATED"},
  {"name": "region", "type": "STRING"}
]`
	tests := []struct {
		name, config, want string
	}{
		{"good", "    partition_by: {column: AT, granularity: hour}\n    cluster_by: [region, id]\n", ""},
		{"good date", "    partition_by: {column: day, granularity: year}\n    cluster_by: day\n", ""},
		{"ingestion time needs no column", "    partition_by: _PARTITIONTIME\n", ""},
		{"partition column missing", "    partition_by: created\n",
			`config.yaml:5:19: pipeline "p1": partition_by column "created" is not in the schema of source "s" (s.json)`},
		{"ingestion time spelled as a column", "    partition_by: {column: ingestion_time}\n",
			`config.yaml:5:28: pipeline "p1": partition_by column "ingestion_time" is not in the schema of source "s" (s.json); ` +
				`to partition by when rows are loaded, write _PARTITIONTIME`},
		{"partition column type", "    partition_by: price\n",
			`config.yaml:5:19: pipeline "p1": partition_by column "price" has type FLOAT64, not DATE, TIMESTAMP or DATETIME`},
		{"date by the hour", "    partition_by: {column: day, granularity: HOUR}\n",
			`config.yaml:5:28: pipeline "p1": partition_by column "day" is a DATE, which cannot be partitioned by HOUR (use DAY, MONTH or YEAR)`},
		{"cluster columns", "    cluster_by: [region, nope, price, tags]\n",
			`config.yaml:5:26: pipeline "p1": cluster_by column "nope" is not in the schema of source "s" (s.json)` + "\n" +
				`config.yaml:5:32: pipeline "p1": cluster_by column "price" has type FLOAT64, which a table cannot be clustered by` + "\n" +
				`config.yaml:5:39: pipeline "p1": cluster_by column "tags" has type REPEATED STRING, which a table cannot be clustered by`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"config.yaml": okConfig + tt.config,
				"sources.yaml": okSource + "    schema: s.json\n", "s.json": sch})
			p, err := LoadDir(dir, noEnv)
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			err = p.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Check =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
