package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRenderDefault(t *testing.T) {
	r, err := Render(sample())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if r.Title != "orders_daily failed: source orders_db unreachable" {
		t.Errorf("title = %q", r.Title)
	}
	for _, want := range []string{
		"FIRING [critical] orders_daily failed",
		"What happened: Run r-1001 of pipeline orders_daily failed in step extract.",
		"Pipelines: orders_daily",
		"Runs: r-1001",
		`Cause: source "orders_db" unreachable`,
		"Diagnosis: connectivity (confidence 87%)",
		"Self-healing: a retry is proposed once orders_db answers",
		"  shp healing approve 42\n  shp run orders_daily --retry r-1001",
		"Details: https://shp.example.com/incidents/inc-42",
		"Alerts (1):\n- [firing critical] run_failed (orders_daily): run r-1001 failed",
		"3 raw alerts were folded into this incident.",
		"Incident inc-42, started 2026-03-01 10:00:00 UTC",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("the text lacks %q:\n%s", want, r.Text)
		}
	}
	for _, want := range []string{
		"<td>orders_daily</td>",
		"<td>r-1001</td>",
		"<td>source &#34;orders_db&#34; unreachable</td>",
		"<td>87%</td>",
		"shp healing approve 42\n",
		`<a href="https://shp.example.com/incidents/inc-42">`,
		"run_failed (orders_daily): run r-1001 failed</li>",
	} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("the HTML lacks %q:\n%s", want, r.HTML)
		}
	}
}

func TestRenderResolvedAndSparse(t *testing.T) {
	r, err := Render(resolved())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Text, "RESOLVED [critical]") || !strings.Contains(r.Text, "resolved 2026-03-01 10:20:00 UTC") {
		t.Errorf("resolved text:\n%s", r.Text)
	}

	// A notification with little in it renders without empty headings.
	r, err = Render(Notification{IncidentID: "inc-9", Confidence: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Title != "shp incident inc-9" {
		t.Errorf("title = %q", r.Title)
	}
	for _, absent := range []string{"Pipelines:", "Runs:", "Cause:", "Diagnosis:", "To act", "Details:", "Alerts", "folded"} {
		if strings.Contains(r.Text, absent) {
			t.Errorf("the text has %q though the notification has none:\n%s", absent, r.Text)
		}
	}
	if !strings.Contains(r.Text, "Confidence: 50%") {
		t.Errorf("the text lacks the confidence:\n%s", r.Text)
	}
}

func TestRenderTitleFallbacks(t *testing.T) {
	n := sample()
	n.Title = ""
	if r, _ := Render(n); r.Title != "run_failed on orders_daily" {
		t.Errorf("title from the alert = %q", r.Title)
	}
	n.Alerts = nil
	if r, _ := Render(n); r.Title != n.Summary {
		t.Errorf("title from the summary = %q", r.Title)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	n := sample()
	n.Summary = `<script>alert("x")</script>`
	n.Cause = `<img src=x onerror=alert(1)>`
	n.Commands = []string{`shp run "a&b"`}
	n.Link = "javascript:alert(1)"
	r, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img", `href="javascript:`} {
		if strings.Contains(r.HTML, bad) {
			t.Errorf("the HTML holds %q unescaped:\n%s", bad, r.HTML)
		}
	}
	if !strings.Contains(r.HTML, "&lt;script&gt;") || !strings.Contains(r.HTML, "shp run &#34;a&amp;b&#34;") {
		t.Errorf("the HTML does not show the escaped text:\n%s", r.HTML)
	}
}

func TestRenderCapsAlerts(t *testing.T) {
	n := sample()
	n.Alerts = nil
	for i := range 25 {
		n.Alerts = append(n.Alerts, Alert{Rule: "row_count", Pipeline: fmt.Sprintf("p%02d", i), Status: StatusFiring})
	}
	r, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "Alerts (25):") || !strings.Contains(r.Text, "and 5 more") {
		t.Errorf("the text does not cap the alerts:\n%s", r.Text)
	}
	if !strings.Contains(r.Text, "(p19)") || strings.Contains(r.Text, "(p20)") {
		t.Errorf("the text lists other than the first 20 alerts:\n%s", r.Text)
	}
	if got := strings.Count(r.HTML, "<li>"); got != 21 {
		t.Errorf("the HTML has %d list items, want 20 alerts and one 'and 5 more'", got)
	}
	if !strings.Contains(r.HTML, "<li>and 5 more</li>") {
		t.Errorf("the HTML does not count the rest:\n%s", r.HTML)
	}
}

func TestCustomTemplates(t *testing.T) {
	cfg := ReceiverConfig{Name: "r", Type: "teams", Settings: map[string]any{
		"url":            "https://x.example/hook",
		"title_template": "{{.Severity | upper}}: {{join \", \" .Pipelines}}\n",
		"text_template":  "{{.Summary}} <b>{{percent .Confidence}}</b> {{.Labels.team}}|{{time .StartsAt}}|{{lower .Status}}",
	}}
	s := newSettings(cfg, "url", keyTitleTemplate, keyTextTemplate)
	rd := newRenderer(s)
	if err := s.err(); err != nil {
		t.Fatal(err)
	}
	r, err := rd.render(sample())
	if err != nil {
		t.Fatal(err)
	}
	if r.Title != "CRITICAL: orders_daily" {
		t.Errorf("title = %q", r.Title)
	}
	want := "Run r-1001 of pipeline orders_daily failed in step extract. <b>87%</b> |2026-03-01 10:00:00 UTC|firing"
	if r.Text != want {
		t.Errorf("text = %q, want %q", r.Text, want)
	}
	if r.HTML != "<pre>"+strings.ReplaceAll(strings.ReplaceAll(want, "<", "&lt;"), ">", "&gt;")+"</pre>" {
		t.Errorf("HTML = %q", r.HTML)
	}
}

// TestTemplateFailsAtExecution checks that a template that parses but
// fails on a notification returns an error naming the key, not a panic.
func TestTemplateFailsAtExecution(t *testing.T) {
	tests := []struct {
		key, src string
	}{
		{keyTitleTemplate, "{{index .Pipelines 5}}"},
		{keyTextTemplate, "{{.Title.Nope}}"},
		{keyTextTemplate, `{{template "missing" .}}`},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.src, func(t *testing.T) {
			n := mustNew(t, ReceiverConfig{Name: "ops", Type: "teams", Settings: map[string]any{
				"url": "https://x.example/hook", tt.key: tt.src,
			}})
			err := n.Notify(t.Context(), sample())
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.key {
				t.Fatalf("want a ConfigError about %s, got %v", tt.key, err)
			}
			if !strings.Contains(err.Error(), `receiver "ops": `+tt.key+" failed") {
				t.Errorf("error = %v", err)
			}
			if Retryable(err) {
				t.Error("a failing template is retryable")
			}
		})
	}
}
