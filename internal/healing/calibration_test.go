package healing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/source"
	_ "github.com/shp-dev/shp/internal/source/apisource"
)

// memSink keeps no chunk: the extractions of these tests fail.
type memSink struct{}

type memChunk struct{}

func (memSink) Chunk(context.Context) (source.Chunk, error) { return memChunk{}, nil }
func (memChunk) Write(p []byte) (int, error)                { return len(p), nil }
func (memChunk) Commit(int64) error                         { return nil }
func (memChunk) Discard()                                   {}

// extractAPI runs an API source against handler and returns what the
// engine records about it, with the number of requests the server saw.
func extractAPI(t *testing.T, settings map[string]any, handler http.HandlerFunc) ([]metadata.HealingAction, int32, error) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		handler(w, r)
	}))
	defer srv.Close()
	settings["url"] = srv.URL + settings["url"].(string)
	ctx := context.Background()
	ex, err := source.NewExtractor(ctx, source.Spec{Name: "orders_api", Type: "api", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	_, extractErr := ex.Extract(ctx, source.ExtractRequest{}, memSink{})
	store := openTestStore(t)
	e := &Engine{Store: store}
	rep := pipeline.TaskReport{RunID: "r1", Pipeline: "p", Source: "orders_api", SourceType: "api", Err: extractErr,
		Retries: ex.(source.RetryLog).TakeRetries()}
	if err := e.RecordTask(ctx, rep); err != nil {
		t.Fatal(err)
	}
	as, err := store.ListActions(ctx, metadata.ActionFilter{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	return as, calls.Load(), extractErr
}

// TestChangedShapeIsAConfigurationChange: each way an API's response can
// change shape fails on one attempt, and the engine records it as a
// configuration change (never transient) without saying that retries ran
// out.
func TestChangedShapeIsAConfigurationChange(t *testing.T) {
	cases := []struct {
		name, recordsPath, contentType, body string
	}{
		{"records_path missing", "data.items", "application/json", `{"results": [{"id": 1}], "next": null}`},
		{"envelope key renamed", "data.items", "application/json", `{"data": {"records": [{"id": 1}]}}`},
		{"HTML page with status 200", "items", "text/html", "<!doctype html><html><head><title>Maintenance</title></head></html>"},
		{"list of numbers", "items", "application/json", `{"items": [101, 102, 103]}`},
		{"records_path points to an object", "data", "application/json", `{"data": {"id": 1, "status": "ok"}}`},
		{"list of strings", "items", "application/json", `{"items": ["a", "b"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			settings := map[string]any{"url": "/v1/orders?token=s3cret", "records_path": tc.recordsPath,
				"retry": map[string]any{"attempts": 4.0, "initial_interval": "1ms"}}
			as, calls, err := extractAPI(t, settings, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				io.WriteString(w, tc.body)
			})
			if err == nil || !errors.Is(err, source.ErrResponseShape) {
				t.Fatalf("extraction error %v", err)
			}
			if calls != 1 {
				t.Errorf("%d requests, want 1: a changed shape is not retried", calls)
			}
			if len(as) != 1 {
				t.Fatalf("actions %+v", as)
			}
			a := as[0]
			t.Log(a.Reason)
			if a.Category == string(Transient) || a.Category != string(ConfigError) || a.Strategy != escalateStrategy || a.DecidedBy != shapeSignature {
				t.Errorf("action %s/%s by %s, want an escalated config_error", a.Strategy, a.Category, a.DecidedBy)
			}
			if strings.Contains(a.Reason, "ran out") || !strings.Contains(a.Reason, "failed on the first attempt; not retried: a changed response shape is not transient") {
				t.Errorf("reason %q", a.Reason)
			}
			if a.Confidence >= 1 || strings.Contains(a.Reason+a.Issue, "s3cret") {
				t.Errorf("confidence %v; issue %q", a.Confidence, a.Issue)
			}
		})
	}
}

// TestExhaustedRetriesSayTheyRanOut: a transient failure that used every
// attempt still says the retries ran out.
func TestExhaustedRetriesSayTheyRanOut(t *testing.T) {
	settings := map[string]any{"url": "/v1/orders", "records_path": "items",
		"retry": map[string]any{"attempts": 3.0, "initial_interval": "1ms", "max_interval": "2ms"}}
	as, calls, err := extractAPI(t, settings, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream hiccup", http.StatusBadGateway)
	})
	if err == nil || calls != 3 {
		t.Fatalf("err %v after %d requests", err, calls)
	}
	if len(as) != 1 || as[0].Category != string(Transient) || as[0].Status != "failed" ||
		!strings.Contains(as[0].Reason, "the retries ran out (3 of 3 attempts); gave up") {
		t.Fatalf("actions %+v", as)
	}
	t.Log(as[0].Reason)
	// The same when the final failure is diagnosed apart from the retried
	// ones, and not when attempts were left.
	d := Diagnosis{Category: Transient, Confidence: 0.8, By: "model v0"}
	exhausted := &resilience.AttemptsError{Name: "source s", Attempts: 5, MaxAttempts: 5, Err: io.ErrUnexpectedEOF}
	if r := escalation(d, fmt.Errorf("extract: %w", exhausted)); !strings.Contains(r, "transient: the retries ran out (5 of 5 attempts)") {
		t.Errorf("exhausted: %q", r)
	}
	once := &resilience.AttemptsError{Name: "source s", Attempts: 1, MaxAttempts: 5, Err: errors.New("odd")}
	if r := escalation(d, once); strings.Contains(r, "ran out") || !strings.Contains(r, "failed on the first attempt; not retried") {
		t.Errorf("one attempt: %q", r)
	}
	if r := escalation(Diagnosis{Category: Auth}, once); strings.Contains(r, "ran out") || !strings.Contains(r, "check the credentials") {
		t.Errorf("auth: %q", r)
	}
	breaker := &resilience.AttemptsError{Name: "source s", Attempts: 3, MaxAttempts: 5, Err: resilience.ErrCircuitOpen}
	if r := escalation(d, breaker); strings.Contains(r, "ran out") || !strings.Contains(r, "circuit breaker opened after repeated failures, at attempt 3 of 5") {
		t.Errorf("breaker: %q", r)
	}
	if r := escalation(d, errors.New("no attempts known")); strings.Contains(r, "ran out") {
		t.Errorf("unknown attempts: %q", r)
	}
}

// TestCalibration: on the held-out split, the calibrated model's expected
// calibration error is at most 0.05 (the model's own diagnoses, all
// diagnoses, and cross-fitted), and no confidence reaches 1.
func TestCalibration(t *testing.T) {
	all, err := Corpus(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	train, held := Split(all)
	train2, held2 := Split(all)
	if len(train) != len(train2) || len(held) != len(held2) || held[0].Issue.Text != held2[0].Issue.Text {
		t.Fatal("the split is not deterministic")
	}
	m, err := Train(train)
	if err != nil {
		t.Fatal(err)
	}
	m.Calibrate(held)
	if m.Temperature <= 0 || m.Ceiling < 0.9 || m.Ceiling > MaxModelConfidence {
		t.Fatalf("temperature %v ceiling %v", m.Temperature, m.Ceiling)
	}
	ev := Evaluate(m, held)
	c := ev.Calibration
	t.Logf("temperature %.3f ceiling %.3f; ECE all %.4f -> %.4f, model %.4f -> %.4f (%d examples), cross-fitted %.4f; accuracy %.3f",
		c.Temperature, c.Ceiling, c.Before.ECE, c.After.ECE, c.ModelBefore.ECE, c.ModelAfter.ECE, c.ModelAfter.Examples, c.ModelCrossFitted.ECE, ev.Accuracy)
	for name, r := range map[string]Reliability{"all": c.After, "model": c.ModelAfter, "cross-fitted": c.ModelCrossFitted} {
		if r.Examples == 0 || r.ECE > ECETarget {
			t.Errorf("%s: ECE %.4f over %d examples, want <= 0.05", name, r.ECE, r.Examples)
		}
	}
	if math.Abs(ev.ECE-c.After.ECE) > 1e-12 || c.ModelAfter.Examples+int(ev.BySignature*float64(ev.Examples)+0.5) != ev.Examples {
		t.Errorf("ECE %v vs %v; %d model examples of %d", ev.ECE, c.After.ECE, c.ModelAfter.Examples, ev.Examples)
	}
	for _, ex := range append(held, train...) {
		if d := Diagnose(ex.Issue, m); d.Confidence >= 1 || d.Confidence > MaxModelConfidence {
			t.Fatalf("%q: confidence %v", ex.Issue.Text, d.Confidence)
		}
	}
	// Words the model has never seen, and words it knows too well.
	for _, text := range []string{"zzz qqq", "extract table sales: source x: failed after 70 attempt(s): read: connection reset by peer; read tcp"} {
		if d := m.Predict(Issue{Kind: "task", Text: text}); d.Confidence >= 1 || d.Confidence > m.Ceiling {
			t.Errorf("%q: %+v", text, d)
		}
	}
	// The uncalibrated model says 1 (to float precision): what calibration fixes.
	raw := *m
	raw.Temperature, raw.Ceiling = 1, uncalibrated
	if d := raw.Predict(Issue{Kind: "task", Text: "INVALID ENCODING: Invalid unicode (byte sequence mismatch) detected in CSV file a.csv"}); d.Confidence < 0.99999 {
		t.Logf("uncalibrated confidence %v", d.Confidence)
	}
	// A model stored before it had a ceiling reads the bound; without a
	// temperature, 1.
	b, _ := m.Marshal()
	old := strings.Replace(string(b), fmt.Sprintf(`,"ceiling":%v`, m.Ceiling), "", 1)
	old = strings.Replace(old, fmt.Sprintf(`"temperature":%v`, m.Temperature), `"temperature":0`, 1)
	if old == string(b) {
		t.Fatal("no ceiling in the stored model")
	}
	back, err := UnmarshalModel([]byte(old))
	if err != nil || back.Ceiling != MaxModelConfidence || back.Temperature != 1 {
		t.Fatalf("old model: %v %+v", err, back)
	}
	if d := back.Predict(Issue{Kind: "task", Text: "INVALID ENCODING: Invalid unicode (byte sequence mismatch) detected in CSV file a.csv"}); d.Confidence > MaxModelConfidence {
		t.Errorf("old model: %+v", d)
	}
	var sb strings.Builder
	ev.WriteReport(&sb, "t")
	for _, want := range []string{"ECE before", "cross-fitted", "Reliability of the model's own diagnoses", "| 0.9–1.0 |"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, sb.String())
		}
	}
	if os.Getenv("SHP_SHOW_EVAL") != "" {
		t.Log(sb.String())
	}
}

// TestBuiltInModelIsCalibrated: the model a project uses before it trains
// its own is calibrated, and a changed response shape is diagnosed by its
// signature, whether from the error chain or from stored text.
func TestBuiltInModelIsCalibrated(t *testing.T) {
	ctx := context.Background()
	m, err := LoadModel(ctx, openTestStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 0 || m.Temperature == 1 || m.Ceiling >= 1 {
		t.Fatalf("version %d temperature %v ceiling %v", m.Version, m.Temperature, m.Ceiling)
	}
	text := `extract GET https://api.example.com/v1/orders: source shop: failed after 1 attempt(s): page 1 (GET https://api.example.com/v1/orders?page=1): the response has no "data" (records_path)`
	if d := Diagnose(Issue{Kind: "task", Text: text, Source: "api"}, m); d.Category != ConfigError || d.By != shapeSignature {
		t.Errorf("stored text: %+v", d)
	}
	if d := m.Predict(Issue{Kind: "task", Text: text, Source: "api"}); d.Confidence >= 1 {
		t.Errorf("the model alone: %+v", d)
	}
}
