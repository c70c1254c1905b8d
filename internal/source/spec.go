package source

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/shp-dev/shp/internal/config/spec"
)

// The configuration of the object sources this package implements: their
// own keys in sources.yaml. The keys every object source takes (type,
// schedule, schema, parameters, format, compression, csv) are the
// configuration's.
func init() {
	spec.Register(spec.Spec{
		Kind:    spec.KindSource,
		Name:    "file",
		Summary: "Files in a local folder.",
		Fields: []spec.Field{
			{Name: "path", Type: spec.String, Required: true, Check: checkGlob, Example: "data/*.csv.gz",
				Doc: "A folder prefix or a glob (`**` matches any number of folders), relative to the config folder unless absolute."},
		},
	})
	spec.Register(spec.Spec{
		Kind:    spec.KindSource,
		Name:    "gcs",
		Summary: "Objects in a Google Cloud Storage bucket, read at the generation that was listed.",
		Fields: []spec.Field{
			{Name: "bucket", Type: spec.String, Required: true, Check: checkBucket, Example: "example-data-bucket",
				Doc: "The bucket's name."},
			{Name: "path", Type: spec.String, Required: true, Check: checkObjectPath, Example: "sales/daily/",
				Doc: "An object prefix or a glob (`sales/**/*.csv`) inside the bucket."},
			{Name: "endpoint", Type: spec.String, Check: CheckHTTPURL, Example: "http://localhost:4443",
				Doc: "Another JSON API endpoint, such as an emulator's; empty for Google Cloud Storage."},
		},
	})
}

// RetryField is the retry key of the extracting sources: how transient
// failures are retried (see Retry), with the defaults the connectors
// apply.
func RetryField() spec.Field {
	return spec.Field{Name: "retry", Type: spec.Object,
		Doc: "How transient failures (network errors, timeouts, HTTP 429 and 5xx, deadlocks, lost connections) are retried, with exponential backoff and jitter.",
		Fields: []spec.Field{
			{Name: "attempts", Type: spec.Int, Default: 5, Doc: "Attempts in all, the first included."},
			{Name: "initial_interval", Type: spec.Duration, Default: "200ms", Doc: "The first wait; each wait doubles."},
			{Name: "max_interval", Type: spec.Duration, Default: "30s", Doc: "The longest wait."},
			{Name: "breaker_failures", Type: spec.Int, Default: 5,
				Doc: "Consecutive failures that open the source's circuit breaker; -1 disables it."},
			{Name: "breaker_cooldown", Type: spec.Duration, Default: "30s", Doc: "How long an open breaker refuses calls."},
		}}
}

// CheckHTTPURL is the spec check of a key that holds an http:// or
// https:// URL.
func CheckHTTPURL(v any) string {
	s, _ := v.(string)
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q must be an http:// or https:// URL", s)
	}
	return ""
}

// checkGlob is the spec check of a file source's path.
func checkGlob(v any) string {
	s, _ := v.(string)
	if _, err := path.Match(filepath.ToSlash(s), ""); err != nil {
		return fmt.Sprintf("%q is not a valid glob: %v", s, err)
	}
	return ""
}

// checkObjectPath is the spec check of a GCS source's path: a prefix or
// glob inside the bucket.
func checkObjectPath(v any) string {
	if s, _ := v.(string); strings.Contains(s, "://") {
		return fmt.Sprintf("%q must be an object prefix or glob inside the bucket, not a URL", s)
	}
	return checkGlob(v)
}

// checkBucket is the spec check of a GCS bucket name.
func checkBucket(v any) string {
	b, _ := v.(string)
	if msg := bucketProblem(b); msg != "" {
		return fmt.Sprintf("%q %s", b, msg)
	}
	return ""
}

// bucketProblem returns what is wrong with a GCS bucket name, or "".
func bucketProblem(b string) string {
	if strings.Contains(b, "/") || strings.Contains(b, ":") {
		return "must be a bucket name, not a URL or path"
	}
	if len(b) < 3 || len(b) > 222 {
		return "must be 3 to 222 characters long"
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		edge := i == 0 || i == len(b)-1
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case !edge && (c == '-' || c == '_' || c == '.'):
		default:
			return "must use lowercase letters, digits, '-', '_' and '.', and start and end with a letter or digit"
		}
	}
	return ""
}
