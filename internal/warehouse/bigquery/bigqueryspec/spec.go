// Package bigqueryspec declares the configuration of the BigQuery
// warehouse: its keys under warehouse: in config.yaml. It is apart from
// package bigquery, which links the BigQuery client, so that the
// configuration can be checked, and its reference written, without it:
// package bigquery imports it, so linking the warehouse registers its
// spec.
package bigqueryspec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/config/spec"
)

// Name is the warehouse's type in config.yaml.
const Name = "bigquery"

// Defaults of the keys that have one.
const (
	// DefaultShpDataset is the dataset of shp's own tables (the load
	// ledger, quarantine, staging) when shp_dataset is not set.
	DefaultShpDataset = "_shp"
	// DefaultLocation is the location of the datasets shp creates.
	DefaultLocation = "US"
	// DefaultStagingExpiration is how long a staging table lives when
	// nothing drops it (a crashed run).
	DefaultStagingExpiration = "24h"
	// DefaultJobTimeout bounds every call shp makes to BigQuery.
	DefaultJobTimeout = "10m"
)

// Config is the warehouse's configuration, as its keys decode (json tags
// are the keys).
type Config struct {
	// Project is the Google Cloud project that runs the jobs and holds
	// the datasets.
	Project string `json:"project"`
	// Dataset holds the target tables.
	Dataset string `json:"dataset"`
	// ShpDataset holds shp's own tables: the load ledger, the quarantine,
	// the set-aside rows and the staging tables.
	ShpDataset string `json:"shp_dataset"`
	// Location is where the datasets shp creates live (US, EU,
	// europe-west1, ...), and where jobs run.
	Location string `json:"location"`
	// CredentialsFile is a service-account key file; empty: Application
	// Default Credentials.
	CredentialsFile string `json:"credentials_file"`
	// CredentialsJSONEnv names an environment variable holding a
	// service-account key as JSON.
	CredentialsJSONEnv string `json:"credentials_json_env"`
	// ImpersonateServiceAccount is a service account the credentials act
	// as (they need roles/iam.serviceAccountTokenCreator on it).
	ImpersonateServiceAccount string `json:"impersonate_service_account"`
	// Endpoint overrides the API's address (an emulator).
	Endpoint string `json:"endpoint"`
	// Labels are added to every job, beside shp_pipeline and shp_run.
	Labels map[string]string `json:"labels"`
	// MaximumBytesBilled caps what one query may bill; 0: no cap.
	MaximumBytesBilled int64 `json:"maximum_bytes_billed"`
	// StagingExpiration is how long a staging table lives if a crash
	// leaves it behind.
	StagingExpiration Duration `json:"staging_expiration"`
	// JobTimeout bounds every call to BigQuery.
	JobTimeout Duration `json:"job_timeout"`
	// DirectLoads lets load jobs read clean CSV, JSON Lines and Parquet
	// objects straight from a gs:// staging bucket (see the README,
	// "Loads straight from gs://").
	DirectLoads bool `json:"direct_loads"`
}

// Duration is a Duration key's value: "24h" or a number of seconds.
type Duration time.Duration

// UnmarshalJSON reads a duration as text ("24h") or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v == nil {
		*d = 0
		return nil
	}
	x, err := ParseDuration(v)
	if err != nil {
		return err
	}
	*d = Duration(x)
	return nil
}

// Decode reads settings (config.Warehouse.Settings, the spec's defaults
// applied) into a Config, applying the defaults to keys that are absent
// (settings built by hand, in tests), and refusing unknown keys.
func Decode(settings map[string]any) (Config, error) {
	var c Config
	if err := spec.Decode(Fields(), settings, &c); err != nil {
		return Config{}, fmt.Errorf("bigquery settings: %w", err)
	}
	return c, nil
}

func init() {
	spec.Register(Spec())
}

// Spec is the warehouse's spec, as registered.
func Spec() spec.Spec {
	return spec.Spec{
		Kind: spec.KindWarehouse,
		Name: Name,
		Summary: "Google BigQuery: load jobs into staging tables of shp's dataset, validation and repairs in GoogleSQL, " +
			"one multi-statement transaction per commit; bytes and slot time recorded per job (see \"BigQuery warehouse\").",
		Fields: Fields(),
	}
}

// Fields are the warehouse's keys.
func Fields() []spec.Field {
	return []spec.Field{
		{Name: "project", Type: spec.String, Required: true, Example: "my-project", Check: checkProject,
			Doc: "The Google Cloud project that runs the jobs and holds the datasets."},
		{Name: "dataset", Type: spec.String, Required: true, Example: "analytics", Check: checkDataset,
			Doc: "The dataset of the target tables (and their `__quarantine` tables); created in `location` when absent."},
		{Name: "shp_dataset", Type: spec.String, Default: DefaultShpDataset, Check: checkDataset,
			Doc: "The dataset of shp's own tables: the load ledger, quality results, rows set aside, staging tables."},
		{Name: "location", Type: spec.String, Default: DefaultLocation, Example: "EU",
			Doc: "The location of the datasets shp creates and of its jobs."},
		{Name: "credentials_file", Type: spec.SecretFile, Example: "/secrets/shp-loader.json",
			Doc: "A service-account key file. Without it and `credentials_json_env`: Application Default Credentials."},
		{Name: "credentials_json_env", Type: spec.SecretEnv, Example: "SHP_BIGQUERY_KEY",
			Doc: "The environment variable holding a service-account key as JSON."},
		{Name: "impersonate_service_account", Type: spec.String, Example: "shp-loader@my-project.iam.gserviceaccount.com",
			Doc: "A service account the credentials act as (they need `roles/iam.serviceAccountTokenCreator` on it)."},
		{Name: "endpoint", Type: spec.String, Example: "http://localhost:9050",
			Doc: "The API's address, for an emulator; no authentication is sent to it."},
		{Name: "labels", Type: spec.Map, Elem: spec.String, Check: checkLabels,
			Doc: "Labels added to every job, beside `shp_pipeline` and `shp_run`."},
		{Name: "maximum_bytes_billed", Type: spec.Int, Default: 0, Check: checkNonNegative,
			Doc: "The most bytes one query may bill; a query that would bill more fails without cost. 0: no cap."},
		{Name: "staging_expiration", Type: spec.Duration, Default: DefaultStagingExpiration, Check: checkExpiration,
			Doc: "How long a staging table lives when a crash leaves it behind (BigQuery drops it then)."},
		{Name: "job_timeout", Type: spec.Duration, Default: DefaultJobTimeout,
			Doc: "The longest shp waits for one call to BigQuery (a job and its results)."},
		{Name: "direct_loads", Type: spec.Bool, Default: true,
			Doc: "With a `gs://` staging bucket, a load job reads each clean CSV, JSON Lines (plain or gzip) or Parquet object where it is staged, " +
				"so its bytes do not pass through shp; rows set aside from it later (by quality rules) have no line number. " +
				"false: shp reads and uploads every object."},
	}
}

// projectPattern is what a project id may be: 6 to 30 lower-case letters,
// digits and hyphens, or a domain-scoped "example.com:project".
var projectPattern = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// datasetPattern is what a dataset id may be.
var datasetPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// labelPattern is what a label key or value may be.
var labelPattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}0-9_-]{0,63}$`)

func checkProject(v any) string {
	if s, _ := v.(string); s != "" && !projectPattern.MatchString(s) {
		return fmt.Sprintf("%q is not a project id (6 to 30 lower-case letters, digits and hyphens, starting with a letter)", s)
	}
	return ""
}

func checkDataset(v any) string {
	if s, _ := v.(string); s != "" && !datasetPattern.MatchString(s) {
		return fmt.Sprintf("%q is not a dataset id (letters, digits and underscores)", s)
	}
	return ""
}

func checkLabels(v any) string {
	m, _ := v.(map[string]any)
	for k, val := range m {
		s := fmt.Sprint(val)
		switch {
		case k == "" || !labelPattern.MatchString(k) || !strings.ContainsAny(k[:1], "abcdefghijklmnopqrstuvwxyz"):
			return fmt.Sprintf("key %q is not a label key (lower-case letters, digits, _ and -, starting with a letter, at most 63)", k)
		case !labelPattern.MatchString(s):
			return fmt.Sprintf("value %q of %s is not a label value (lower-case letters, digits, _ and -, at most 63)", s, k)
		case k == "shp_pipeline" || k == "shp_run":
			return fmt.Sprintf("key %q is set by shp on every job", k)
		}
	}
	return ""
}

func checkNonNegative(v any) string {
	if n, _ := v.(int); n < 0 {
		return fmt.Sprintf("must be 0 or more, got %d", n)
	}
	return ""
}

// checkExpiration refuses a staging expiration under an hour: a load and
// its validation must fit in it.
func checkExpiration(v any) string {
	d, err := ParseDuration(v)
	if err != nil {
		return err.Error()
	}
	if d < time.Hour {
		return fmt.Sprintf("must be 1h or more, got %s", d)
	}
	return ""
}

// ParseDuration reads a Duration key's value as the configuration hands
// it on: a string such as "24h", or a number of seconds.
func ParseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		return time.ParseDuration(x)
	case int:
		return time.Duration(x) * time.Second, nil
	case int64:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	case time.Duration:
		return x, nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

// String writes the duration as time.Duration does ("24h0m0s").
func (d Duration) String() string { return time.Duration(d).String() }
