// Package healing is the self-healing engine's diagnosis: it gives each
// issue (a failed task, a failed quality rule, schema drift, a metric
// anomaly) a root-cause category from a fixed taxonomy and a confidence.
// Deterministic signatures (SQLSTATEs, HTTP statuses, driver error
// numbers, Go error types) decide first; a naive Bayes model over the
// error text's tokens and the issue's structured features decides the
// rest. The model is trained from a labeled corpus kept in this package
// (hand-labeled real messages and fault-injection templates) plus the
// feedback recorded in the metadata store.
package healing

// Category is a root cause.
type Category string

// The taxonomy.
const (
	Transient          Category = "transient"           // network or server error that retrying fixes
	SourceUnavailable  Category = "source_unavailable"  // the source is down or unreachable for a while
	Auth               Category = "auth"                // authentication or permission
	RateLimited        Category = "rate_limited"        // too many requests
	Quota              Category = "quota"               // a quota or billing limit
	ResourceExhaustion Category = "resource_exhaustion" // memory, disk, connections
	Timeout            Category = "timeout"             // a statement, request or task timed out
	Deadlock           Category = "deadlock"            // deadlock or lock wait timeout
	DriftAdded         Category = "schema_drift_added"
	DriftRemoved       Category = "schema_drift_removed"
	DriftRenamed       Category = "schema_drift_renamed"
	DriftType          Category = "schema_drift_type"
	DriftRequired      Category = "schema_drift_required"
	LateData           Category = "late_data"    // late or missing data
	PartialFile        Category = "partial_file" // partial or truncated file
	Duplicates         Category = "duplicates"
	NullSpike          Category = "null_spike"
	DateFormat         Category = "format_drift_date"
	NumberFormat       Category = "format_drift_number"
	Encoding           Category = "encoding"
	ValueDrift         Category = "value_set_drift" // values outside the expected set: case, spacing, new codes
	VolumeAnomaly      Category = "volume_anomaly"
	SlowRun            Category = "slow_run"     // a run far slower than usual, the data as usual
	ConfigError        Category = "config_error" // configuration or code error
)

// Categories lists the taxonomy in a stable order.
var Categories = []Category{
	Transient, SourceUnavailable, Auth, RateLimited, Quota, ResourceExhaustion, Timeout, Deadlock,
	DriftAdded, DriftRemoved, DriftRenamed, DriftType, DriftRequired, LateData, PartialFile, Duplicates,
	NullSpike, DateFormat, NumberFormat, Encoding, ValueDrift, VolumeAnomaly, SlowRun, ConfigError,
}

// Valid reports whether c is in the taxonomy.
func (c Category) Valid() bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

// IssueKind says where the issues a strategy acts on are detected:
// "quality" for rule repairs, "drift" for stage repairs, "anomaly" for
// holds and reports, "task" for the rest (retries, waits, failovers). A
// decision on an action becomes a labeled example of that kind.
func IssueKind(strategy string) string {
	for _, s := range Strategies() {
		if s.Name() == strategy {
			return "quality"
		}
	}
	for _, s := range StageStrategies() {
		if s.Name() == strategy {
			return "drift"
		}
	}
	switch strategy {
	case holdStrategy, reportStrategy:
		return "anomaly"
	}
	return "task"
}

// OtherStrategies names the strategies that are neither rule nor stage
// repairs: the circuit breaker, anomaly reports, and what happens around
// a source (retries, waits, failover, smaller chunks, escalation).
func OtherStrategies() []string {
	return []string{holdStrategy, reportStrategy, retryStrategy, slowDownStrategy, waitStrategy, failoverStrategy, shrinkStrategy, escalateStrategy}
}
