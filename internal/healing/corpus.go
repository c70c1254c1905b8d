package healing

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

//go:embed corpus/*.jsonl
var corpusFiles embed.FS

// HandLabeled reads the hand-labeled examples kept in the repository:
// real error messages of PostgreSQL, MySQL, DuckDB, HTTP APIs and GCS.
func HandLabeled() ([]Example, error) {
	entries, err := corpusFiles.ReadDir("corpus")
	if err != nil {
		return nil, err
	}
	var out []Example
	for _, e := range entries {
		b, err := corpusFiles.ReadFile("corpus/" + e.Name())
		if err != nil {
			return nil, err
		}
		exs, err := ReadExamples(bytes.NewReader(b), e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, exs...)
	}
	return out, nil
}

// ReadExamples reads JSON Lines of examples, naming the line of a bad one.
func ReadExamples(r interface{ Read([]byte) (int, error) }, name string) ([]Example, error) {
	var out []Example
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var ex Example
		if err := json.Unmarshal([]byte(text), &ex); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if !ex.Category.Valid() {
			return nil, fmt.Errorf("%s:%d: category %q is not in the taxonomy", name, line, ex.Category)
		}
		if ex.Origin == "" {
			ex.Origin = "hand"
		}
		out = append(out, ex)
	}
	return out, sc.Err()
}

// injected are fault-injection templates: the messages shp's own
// connectors and loader produce when each fault is injected, with the
// variable parts drawn at random.
var injected = map[Category][]string{
	Transient: {
		"extract table {t}: source {s}: failed after {n} attempt(s): read tcp {ip}:{port}->{ip}:5432: read: connection reset by peer",
		"page {n} (GET https://{host}/v1/{t}?page={n}): unexpected EOF",
		"Error 2013 (HY000): Lost connection to MySQL server during query",
		"GET https://{host}/{t}: 500 Internal Server Error: temporary failure, please retry",
		"write tcp {ip}:{port}->{ip}:443: write: broken pipe",
	},
	SourceUnavailable: {
		"failed to connect to `host={host} user={u} database={d}`: dial error (dial tcp {ip}:5432: connect: connection refused)",
		"dial tcp {ip}:3306: connect: no route to host",
		"GET https://{host}/v1/{t}: 503 Service Unavailable: down for maintenance",
		"dial tcp: lookup {host}: no such host",
	},
	Auth: {
		"FATAL: password authentication failed for user \"{u}\" (SQLSTATE 28P01)",
		"Error 1045 (28000): Access denied for user '{u}'@'{ip}' (using password: YES)",
		"GET https://{host}/v1/{t}: 401 Unauthorized: invalid or expired token",
		"googleapi: Error 403: {u}@{d}.iam.gserviceaccount.com does not have storage.objects.get access, forbidden",
		"ERROR: permission denied for table {t} (SQLSTATE 42501)",
	},
	RateLimited: {
		"GET https://{host}/v1/{t}: 429 Too Many Requests: rate limit exceeded, retry after {n} seconds",
		"googleapi: Error 429: rate limit exceeded for {t}, rateLimitExceeded",
	},
	Quota: {
		"googleapi: Error 403: Quota exceeded for quota metric {t} and limit per day, quotaExceeded",
		"GET https://{host}/export: 402 Payment Required: monthly quota of {n} records used up",
	},
	ResourceExhaustion: {
		"Out of Memory Error: failed to allocate data of size {n}.0 MiB ({n}.1 GiB/{n}.0 GiB used)",
		"FATAL: sorry, too many clients already (SQLSTATE 53300)",
		"IO Error: Could not write file \"/data/.shp/tmp/{t}.tmp\": No space left on device",
		"Error 1040: Too many connections",
	},
	Timeout: {
		"ERROR: canceling statement due to statement timeout (SQLSTATE 57014)",
		"Get \"https://{host}/{t}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
		"timed out after {n}m0s: context deadline exceeded",
	},
	Deadlock: {
		"ERROR: deadlock detected (SQLSTATE 40P01)",
		"Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction",
		"Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction",
		"ERROR: could not serialize access due to concurrent update (SQLSTATE 40001)",
	},
	DriftAdded: {
		"extra column \"{c}\" is not in the schema; ignored",
		"new column {c} appeared in {t}",
	},
	DriftRemoved: {
		"column \"{c}\" is missing from the file; loaded as NULL",
		"ERROR: column \"{c}\" does not exist (SQLSTATE 42703)",
	},
	DriftRenamed: {
		"column \"{c}\" is missing from the file; extra column \"{c}_id\" is not in the schema; same type and values look alike",
	},
	DriftType: {
		"CAST (column {c}): Could not convert string \"{n}.5\" to 'BIGINT'",
		"column {c} changed type from integer to text in {t}",
	},
	DriftRequired: {
		"NULL: required column \"{c}\" is null",
		"ERROR: null value in column \"{c}\" of relation \"{t}\" violates not-null constraint (SQLSTATE 23502)",
	},
	LateData: {
		"no new objects under gs://{d}/{t}/2026-01-{day}/ at 02:00; the file usually arrives by 01:30",
		"freshness: latest {c} is 2026-01-{day}, expected later",
	},
	PartialFile: {
		"{n} row(s) of {t}.csv cannot be read: MISSING COLUMNS (column {c}): Expected Number of Columns: 7 Found: 3",
		"gzip: invalid header; unexpected EOF while reading {t}.csv.gz",
		"invalid JSON at line {n}: unexpected end of input",
	},
	Duplicates: {
		"rule expect_column_values_to_be_unique({c}) failed: {n} of {n}0 values are duplicates",
		"ERROR: duplicate key value violates unique constraint \"{t}_pkey\" (SQLSTATE 23505)",
	},
	NullSpike: {
		"null rate of {c} rose to {n}.2% (median 0.{n}%, {n} MADs above)",
		"rule expect_column_values_to_not_be_null({c}) failed: {n} of {n}0 values are null",
	},
	DateFormat: {
		"CAST (column {c}): Could not convert string \"{day}/01/2026\" to 'DATE'",
		"ERROR: invalid input syntax for type timestamp: \"2026-13-{day}\" (SQLSTATE 22007)",
		"CAST (column {c}): Could not convert string \"1767{n}00000\" to 'TIMESTAMP'",
	},
	NumberFormat: {
		"CAST (column {c}): Could not convert string \"1.{n},50\" to 'DECIMAL(12,2)'",
		"ERROR: invalid input syntax for type numeric: \"{n},5\" (SQLSTATE 22P02)",
		"CAST (column {c}): Could not convert string \"1,{n}\" to 'BIGINT'",
	},
	Encoding: {
		"INVALID ENCODING: Invalid unicode (byte sequence mismatch) detected in CSV file {t}.csv",
		"ERROR: invalid byte sequence for encoding \"UTF8\": 0xe9 0x{n} (SQLSTATE 22021)",
	},
	ValueDrift: {
		"rule expect_column_values_to_be_in_set({c}) failed: {n} unexpected values, e.g. [ emea Apac]",
		"rule expect_column_values_to_be_in_set({c}) failed: {n} unexpected values, e.g. [active  Pending]",
		"rule expect_column_values_to_not_be_in_set({c}) failed: {n} unexpected values, e.g. [n/a]",
	},
	VolumeAnomaly: {
		"row count {n} is 9{n}% below the median {n}000 of the last 28 days",
		"volume spike: {n}00000 rows, {n} MADs above the usual {n}000",
	},
	ConfigError: {
		"ERROR: relation \"{t}\" does not exist (SQLSTATE 42P01)",
		"Error 1146 (42S02): Table '{d}.{t}' doesn't exist",
		"page 1 (GET https://{host}/v1/{t}): the response has no \"{c}\" (records_path)",
		"source \"{t}\": format \"{c}\" is unknown (supported: csv, jsonl, json, parquet)",
		// A changed response shape fails on the first attempt: "failed
		// after 1 attempt(s)" is no sign of a transient failure.
		"extract GET https://{host}/v1/{t}: source {s}: failed after 1 attempt(s): page 1 (GET /v1/{t}): the response shape changed: it has no \"data.{t}\" (records_path); its top-level keys are [\"{c}\", \"meta\"]",
		"extract GET https://{host}/v1/{t}: source {s}: failed after 1 attempt(s): page {n} (GET /v1/{t}): the response shape changed: records_path \"{t}\" has nothing to read: the response is an HTML page (Content-Type text/html), not JSON",
		"extract POST https://{host}/graphql (GraphQL): source {s}: failed after 1 attempt(s): page 1 (POST /graphql): the response shape changed: records_path \"data.{t}\" holds a list whose record 1 is a number, not an object",
	},
}

var (
	kinds   = map[Category]string{ValueDrift: "quality", DriftAdded: "drift", DriftRemoved: "drift", DriftRenamed: "drift", DriftType: "drift", DriftRequired: "drift", LateData: "anomaly", NullSpike: "anomaly", VolumeAnomaly: "anomaly", Duplicates: "quality"}
	sources = []string{"postgres", "mysql", "api", "file", "gcs"}
	names   = []string{"orders", "customers", "sales", "events", "payments", "shipments", "invoices", "line_items", "users", "products"}
	cols    = []string{"order_id", "email", "amount", "created_at", "region", "quantity", "unit_price", "status", "sku", "customer_id"}
	hosts   = []string{"api.example.com", "db.internal", "10.0.0.9", "shop.example.org", "replica-2.db"}
)

// Injected draws n examples per template with a fixed seed.
func Injected(n int) []Example {
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	var out []Example
	for _, c := range Categories {
		for _, tmpl := range injected[c] {
			for i := 0; i < n; i++ {
				r := strings.NewReplacer(
					"{t}", pick(names), "{c}", pick(cols), "{host}", pick(hosts), "{u}", pick([]string{"shp", "etl", "reader"}),
					"{d}", pick([]string{"shop", "dwh", "landing"}), "{ip}", fmt.Sprintf("10.0.%d.%d", rng.IntN(255), rng.IntN(255)),
					"{port}", fmt.Sprint(30000+rng.IntN(30000)), "{n}", fmt.Sprint(1+rng.IntN(98)), "{day}", fmt.Sprintf("%02d", 1+rng.IntN(28)),
					"{s}", pick(names),
				)
				kind := kinds[c]
				if kind == "" {
					kind = "task"
				}
				out = append(out, Example{Issue: Issue{Kind: kind, Text: r.Replace(tmpl), Source: pick(sources)}, Category: c, Origin: "injected"})
			}
		}
	}
	return out
}
