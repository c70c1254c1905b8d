package cli

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestRunTracedAndLoggedForCloudLogging: with an OTLP endpoint in the
// environment, shp run sends a trace per run (a span for the run, one per
// stage and object) to it, and with --log-format json every line of the
// run is a Cloud Logging entry naming that trace.
func TestRunTracedAndLoggedForCloudLogging(t *testing.T) {
	var mu sync.Mutex
	var spans []string
	traces := map[string]bool{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP request %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("not an OTLP export: %v", err)
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, s.Name)
					traces[hex.EncodeToString(s.TraceId)] = true
				}
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("GOOGLE_CLOUD_PROJECT", "acme-prod")

	dir := initProject(t)
	code, out, errOut := shp(t, "run", "--config", dir, "--log-format", "json", "--quiet")
	if code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	names := strings.Join(spans, ",")
	for _, want := range []string{"run sales", "extract", "stage", "validate", "commit"} {
		if !strings.Contains(","+names+",", ","+want+",") {
			t.Errorf("no %q span among %s", want, names)
		}
	}
	if len(traces) != 1 {
		t.Fatalf("spans of %d traces, want the run's one: %v", len(traces), traces)
	}
	var traceID string
	for id := range traces {
		traceID = id
	}
	sc := bufio.NewScanner(strings.NewReader(errOut))
	lines, traced := 0, 0
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Text())
		}
		lines++
		if entry["severity"] == nil || entry["message"] == nil {
			t.Errorf("no severity or message: %s", sc.Text())
		}
		if entry["run_id"] != nil {
			traced++
			if entry["logging.googleapis.com/trace"] != "projects/acme-prod/traces/"+traceID || entry["pipeline"] != "sales" {
				t.Errorf("a run's line without its trace: %s", sc.Text())
			}
		}
	}
	if lines == 0 || traced == 0 {
		t.Fatalf("%d log lines, %d of the run: %s", lines, traced, errOut)
	}
}

func TestLogFormatIsChecked(t *testing.T) {
	code, _, errOut := shp(t, "version", "--log-format", "xml")
	if code != ExitUsage || !strings.Contains(errOut, "--log-format must be text or json") {
		t.Fatalf("%d %s", code, errOut)
	}
}
