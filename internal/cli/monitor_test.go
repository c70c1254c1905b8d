package cli

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
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

// mailbox is an in-process SMTP server's record of the messages it took.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct{ box *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, string(b))
	s.box.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func (m *mailbox) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// TestQuickstartFaultsReachTeamsAndEmail: a new project with a Teams
// webhook and an SMTP server in monitoring.yaml gets one message on each
// per incident: the quick start's escalated repairs, then its source
// failing.
func TestQuickstartFaultsReachTeamsAndEmail(t *testing.T) {
	var mu sync.Mutex
	var cards []map[string]any
	teams := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var card map[string]any
		if err := json.NewDecoder(r.Body).Decode(&card); err != nil {
			t.Errorf("teams: %v", err)
		}
		mu.Lock()
		cards = append(cards, card)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer teams.Close()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	t.Setenv("SHP_TEST_TEAMS_URL", teams.URL+"/workflows/x?sig=SECRET-SIG")

	dir := initProject(t)
	monitoring := fmt.Sprintf(`group_wait: 0s
resolve_wait: 0s
receivers:
  - name: teams-ops
    type: teams
    url: ${SHP_TEST_TEAMS_URL}
  - name: oncall
    type: email
    host: 127.0.0.1
    port: %d
    tls: none
    from: shp@example.com
    to: [oncall@example.com]
route:
  receiver: teams-ops
  routes:
    - receiver: teams-ops
      continue: true
    - receiver: oncall
      matchers: ['severity=~"critical|warning"']
`, ln.Addr().(*net.TCPAddr).Port)
	if err := os.WriteFile(filepath.Join(dir, "monitoring.yaml"), []byte(monitoring), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := shp(t, "run", "--config", dir, "--quiet"); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	code, out, errOut := shp(t, "alerts", "evaluate", "--config", dir)
	if code != 0 || !strings.Contains(out, "1 incident(s) opened") || !strings.Contains(out, "2 sent") {
		t.Fatalf("evaluate: %d %s %s", code, out, errOut)
	}
	// The source goes away: the next run fails; one more incident, one
	// more message on each receiver.
	if err := os.Rename(filepath.Join(dir, "data"), filepath.Join(dir, "data.gone")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := shp(t, "run", "--config", dir, "--quiet"); code == 0 {
		t.Fatal("a run of a missing folder succeeded")
	}
	for range 2 { // a second cycle sends nothing new
		if code, out, errOut := shp(t, "alerts", "evaluate", "--config", dir); code != 0 {
			t.Fatalf("evaluate: %d %s %s", code, out, errOut)
		}
	}
	mu.Lock()
	got := len(cards)
	first, _ := json.Marshal(cards[0])
	mu.Unlock()
	mails := box.messages()
	if got != 2 || len(mails) != 2 {
		t.Fatalf("%d cards and %d mails, want 2 of each (one per incident)", got, len(mails))
	}
	if !strings.Contains(string(first), `"contentType":"application/vnd.microsoft.card.adaptive"`) ||
		!strings.Contains(string(first), "shp healing actions --status escalated --pipeline sales") {
		t.Errorf("first card: %s", first)
	}
	if !strings.Contains(mails[1], "run_failed") || !strings.Contains(mails[1], "text/html") || !strings.Contains(mails[1], "shp runs show run-") {
		t.Errorf("second mail:\n%s", mails[1])
	}
	code, out, _ = shp(t, "alerts", "incidents", "--config", dir)
	if code != 0 || strings.Count(out, "open") != 2 {
		t.Fatalf("incidents: %d\n%s", code, out)
	}
	code, out, _ = shp(t, "alerts", "notifications", "--config", dir, "--status", "sent")
	if code != 0 || strings.Count(out, "sent") != 4 || strings.Contains(out, "SECRET-SIG") {
		t.Fatalf("notifications: %d\n%s", code, out)
	}
	// Acknowledge, silence, show.
	id := strings.Fields(strings.Split(out, "\n")[1])[4]
	if code, out, errOut := shp(t, "alerts", "ack", id, "--config", dir, "--by", "ana"); code != 0 || !strings.Contains(out, "acknowledged by ana") {
		t.Fatalf("ack: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "alerts", "show", id, "--config", dir)
	if code != 0 || !strings.Contains(out, "acknowledged by ana") || !strings.Contains(out, "notifications (2)") {
		t.Fatalf("show: %d\n%s", code, out)
	}
	code, out, errOut = shp(t, "alerts", "silence", "--config", dir, "--match", `pipeline="sales"`, "--for", "1h", "--comment", "fixing")
	if code != 0 || !strings.Contains(out, "silence sil-") {
		t.Fatalf("silence: %d %s %s", code, out, errOut)
	}
	silenceID := strings.TrimSuffix(strings.Fields(out)[1], "")
	if code, out, _ := shp(t, "alerts", "silences", "--config", dir); code != 0 || !strings.Contains(out, silenceID) {
		t.Fatalf("silences: %d %s", code, out)
	}
	if code, out, _ := shp(t, "alerts", "unsilence", silenceID, "--config", dir); code != 0 || !strings.Contains(out, "ended") {
		t.Fatalf("unsilence: %d %s", code, out)
	}
	if code, _, errOut := shp(t, "alerts", "silence", "--config", dir, "--match", "nonsense"); code != ExitUsage {
		t.Fatalf("a bad matcher: %d %s", code, errOut)
	}
	if code, out, _ := shp(t, "alerts", "list", "--config", dir, "--state", "firing", "--format", "json"); code != 0 || !strings.Contains(out, `"rule": "run_failed"`) {
		t.Fatalf("list: %d %s", code, out)
	}
}
