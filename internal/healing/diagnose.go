package healing

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/source"
)

// Issue is what went wrong, as the diagnosis sees it.
type Issue struct {
	// Kind is where it was detected: task, quality, drift or anomaly.
	Kind string `json:"kind"`
	// Text is the error chain, the failing rule or the anomaly, as text.
	Text string `json:"text"`
	// Structured evidence, when known.
	SQLState   string `json:"sqlstate,omitempty"`
	MySQLError int    `json:"mysql_error,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	// GoError names a Go error class found in the chain: timeout,
	// canceled, eof, reset, refused, dns, response_shape (a response of
	// another shape than the source's settings read).
	GoError string `json:"go_error,omitempty"`
	// Source is the source type (postgres, api, file ...).
	Source string `json:"source,omitempty"`
}

// FromError reads an issue from a task's error chain.
func FromError(err error, sourceType string) Issue {
	is := Issue{Kind: "task", Text: err.Error(), Source: sourceType}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		is.SQLState = pg.Code
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		is.MySQLError = int(my.Number)
	}
	var he *resilience.HTTPError
	if errors.As(err, &he) {
		is.HTTPStatus = he.Status
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, source.ErrResponseShape):
		is.GoError = responseShape
	case errors.Is(err, context.DeadlineExceeded):
		is.GoError = "timeout"
	case errors.Is(err, context.Canceled):
		is.GoError = "canceled"
	case errors.Is(err, io.ErrUnexpectedEOF):
		is.GoError = "eof"
	case errors.Is(err, syscall.ECONNRESET):
		is.GoError = "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		is.GoError = "refused"
	case errors.As(err, &dns):
		is.GoError = "dns"
	}
	return is
}

// Diagnosis is a category with a confidence in [0, 1] and how it was
// reached.
type Diagnosis struct {
	Category   Category `json:"category"`
	Confidence float64  `json:"confidence"`
	// By is "signature" (a rule on structured evidence) or "model
	// v<version>".
	By string `json:"by"`
	// Runner-up is the model's second choice, for a person to weigh.
	RunnerUp           Category `json:"runner_up,omitempty"`
	RunnerUpConfidence float64  `json:"runner_up_confidence,omitempty"`
}

// signatureConfidence is how sure a signature is.
const signatureConfidence = 0.99

// responseShape is the GoError of a response whose shape is not the one
// the source's settings read, and shapeSignature the diagnosis' By.
const (
	responseShape  = "response_shape"
	shapeSignature = "signature response shape"
)

// Signature decides from structured evidence alone, when it can.
func Signature(is Issue) (Diagnosis, bool) {
	if c, ok := sqlStateCategory(is.SQLState); ok {
		return Diagnosis{Category: c, Confidence: signatureConfidence, By: "signature sqlstate " + is.SQLState}, true
	}
	if c, ok := mysqlCategory(is.MySQLError); ok {
		return Diagnosis{Category: c, Confidence: signatureConfidence, By: "signature mysql " + strconv.Itoa(is.MySQLError)}, true
	}
	if c, ok := httpCategory(is.HTTPStatus); ok {
		return Diagnosis{Category: c, Confidence: signatureConfidence, By: "signature http " + strconv.Itoa(is.HTTPStatus)}, true
	}
	if c, name, ok := expectationCategory(is); ok {
		return Diagnosis{Category: c, Confidence: 0.95, By: "signature " + name}, true
	}
	if is.Kind == "anomaly" {
		// The detector's own wording names the metric it measured.
		for prefix, c := range anomalyCategories {
			if strings.HasPrefix(is.Text, prefix) {
				return Diagnosis{Category: c, Confidence: 0.95, By: "signature anomaly " + string(c)}, true
			}
		}
	}
	switch is.GoError {
	case responseShape:
		// The API changed its envelope, or records_path is wrong: a
		// configuration change, never transient. Not 0.99: a proxy's
		// maintenance page can also answer 200 with HTML.
		return Diagnosis{Category: ConfigError, Confidence: 0.9, By: shapeSignature}, true
	case "timeout":
		return Diagnosis{Category: Timeout, Confidence: signatureConfidence, By: "signature deadline exceeded"}, true
	case "refused", "dns":
		return Diagnosis{Category: SourceUnavailable, Confidence: 0.9, By: "signature " + is.GoError}, true
	case "reset":
		return Diagnosis{Category: Transient, Confidence: 0.9, By: "signature connection reset"}, true
	}
	return Diagnosis{}, false
}

// expectationCategories are the root causes that a failed rule's kind
// decides by itself; the others (a range, a regex, a row count) have
// several, and the model decides.
var expectationCategories = map[string]Category{
	"expect_column_values_to_be_unique":                      Duplicates,
	"expect_compound_columns_to_be_unique":                   Duplicates,
	"expect_select_column_values_to_be_unique_within_record": Duplicates,
	"expect_column_values_to_not_be_null":                    NullSpike,
	"expect_column_values_to_be_in_set":                      ValueDrift,
	"expect_column_values_to_match_strftime_format":          DateFormat,
	"expect_column_values_to_be_dateutil_parseable":          DateFormat,
}

// anomalyCategories map the start of detect's descriptions to the
// category their metric means.
var anomalyCategories = map[string]Category{
	"row count ":               VolumeAnomaly,
	"null rate of column ":     NullSpike,
	"data is later than usual": LateData,
	"the run took ":            SlowRun,
	"repeated rows: ":          Duplicates,
}

// expectationCategory reads the failed rule's expectation from a quality
// issue ("rule expect_...(col) failed: ...").
func expectationCategory(is Issue) (Category, string, bool) {
	if is.Kind != "quality" {
		return "", "", false
	}
	name, _, ok := strings.Cut(strings.TrimPrefix(is.Text, "rule "), "(")
	if !ok {
		return "", "", false
	}
	c, ok := expectationCategories[name]
	return c, name, ok
}

func sqlStateCategory(code string) (Category, bool) {
	switch {
	case code == "":
		return "", false
	case code == "40001", code == "40P01", code == "55P03":
		return Deadlock, true
	case code == "57014":
		return Timeout, true
	case code == "57P01", code == "57P02", code == "57P03":
		return SourceUnavailable, true
	case strings.HasPrefix(code, "08"):
		return Transient, true
	case code == "28P01", code == "28000", code == "42501":
		return Auth, true
	case strings.HasPrefix(code, "53"):
		return ResourceExhaustion, true
	case code == "22007", code == "22008":
		return DateFormat, true
	case code == "22P02", code == "22003":
		return NumberFormat, true
	case code == "22021":
		return Encoding, true
	case code == "23505":
		return Duplicates, true
	case code == "23502":
		return DriftRequired, true
	case code == "42703":
		return DriftRemoved, true
	case code == "42P01", code == "42601", code == "3D000", code == "42883":
		return ConfigError, true
	}
	return "", false
}

func mysqlCategory(n int) (Category, bool) {
	switch n {
	case 0:
		return "", false
	case 1205, 1213:
		return Deadlock, true
	case 1045, 1044, 1142, 1227:
		return Auth, true
	case 2006, 2013:
		return Transient, true
	case 2002, 2003, 2005:
		return SourceUnavailable, true
	case 1040, 1041, 1114, 1021:
		return ResourceExhaustion, true
	case 1146, 1049, 1064:
		return ConfigError, true
	case 1054:
		return DriftRemoved, true
	case 1062:
		return Duplicates, true
	case 1292:
		return DateFormat, true
	case 1366:
		return NumberFormat, true
	case 3024:
		return Timeout, true
	}
	return "", false
}

func httpCategory(status int) (Category, bool) {
	switch {
	case status == 0:
		return "", false
	case status == 429:
		return RateLimited, true
	case status == 401, status == 403:
		return Auth, true
	case status == 408, status == 504:
		return Timeout, true
	case status == 502, status == 500:
		return Transient, true
	case status == 503:
		return SourceUnavailable, true
	case status == 404, status == 400, status == 405, status == 422:
		return ConfigError, true
	}
	return "", false
}

var (
	sqlStateText = regexp.MustCompile(`SQLSTATE ([0-9A-Z]{5})`)
	mysqlText    = regexp.MustCompile(`\bError (\d{4})\b`)
	// httpText is an HTTP request's status in an API connector's error
	// ("GET /v1/orders: 503 Service Unavailable").
	httpText = regexp.MustCompile(`\b(?:` + strings.Join([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}, "|") +
		`) \S+: ([1-5]\d\d) [A-Z]`)
	// recordsPathText is the API connector's missing records_path, as
	// its stored errors read.
	recordsPathText = regexp.MustCompile(`the response has no "[^"]*" \(records_path\)`)
)

// WithEvidence fills the structured evidence a stored error text still
// shows: a SQLSTATE, a MySQL error number, an HTTP status, a deadline, a
// changed response shape.
func WithEvidence(is Issue) Issue {
	if is.SQLState == "" {
		if m := sqlStateText.FindStringSubmatch(is.Text); m != nil {
			is.SQLState = m[1]
		}
	}
	if is.MySQLError == 0 {
		if m := mysqlText.FindStringSubmatch(is.Text); m != nil {
			is.MySQLError, _ = strconv.Atoi(m[1])
		}
	}
	if is.HTTPStatus == 0 {
		if m := httpText.FindStringSubmatch(is.Text); m != nil {
			is.HTTPStatus, _ = strconv.Atoi(m[1])
		}
	}
	if is.GoError == "" && strings.Contains(is.Text, "context deadline exceeded") {
		is.GoError = "timeout"
	}
	if is.GoError == "" && (strings.Contains(is.Text, source.ErrResponseShape.Error()+": ") || recordsPathText.MatchString(is.Text)) {
		is.GoError = responseShape
	}
	return is
}

// Diagnose decides by signature, else by the model (nil: no model, the
// issue is a configuration or code error with low confidence).
func Diagnose(is Issue, m *Model) Diagnosis {
	is = WithEvidence(is)
	if d, ok := Signature(is); ok {
		return d
	}
	if m == nil {
		return Diagnosis{Category: ConfigError, Confidence: 0.2, By: "no model"}
	}
	return m.Predict(is)
}

// tokens are the model's features: words of the text, with numbers,
// quoted names and identifiers folded, plus the structured evidence.
func tokens(is Issue) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	if is.Kind != "" {
		add("kind:" + is.Kind)
	}
	if is.Source != "" {
		add("source:" + is.Source)
	}
	if is.SQLState != "" {
		add("sqlstate:" + is.SQLState)
		add("sqlclass:" + is.SQLState[:min(2, len(is.SQLState))])
	}
	if is.HTTPStatus != 0 {
		add("http:" + strconv.Itoa(is.HTTPStatus))
	}
	if is.GoError != "" {
		add("goerr:" + is.GoError)
	}
	text := strings.ToLower(is.Text)
	word := strings.Builder{}
	flush := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		allDigits := true
		for _, r := range w {
			if r < '0' || r > '9' {
				allDigits = false
				break
			}
		}
		switch {
		case allDigits:
			add("<num>")
		case len(w) == 1:
		default:
			add(w)
		}
	}
	for _, r := range text {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			word.WriteRune(r)
			continue
		}
		flush()
	}
	flush()
	// Word pairs carry phrases such as "does not", "too many".
	n := len(out)
	for i := 0; i+1 < n; i++ {
		if !strings.Contains(out[i], ":") && !strings.Contains(out[i+1], ":") {
			out = append(out, out[i]+"_"+out[i+1])
		}
	}
	return out
}
