package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adaptiveEnvelope is the message Teams Workflows webhooks take.
type adaptiveEnvelope struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string          `json:"contentType"`
		ContentURL  json.RawMessage `json:"contentUrl"`
		Content     struct {
			Schema  string           `json:"$schema"`
			Type    string           `json:"type"`
			Version string           `json:"version"`
			Body    []map[string]any `json:"body"`
			Actions []map[string]any `json:"actions"`
		} `json:"content"`
	} `json:"attachments"`
}

// sendTeams sends n to a teams receiver with the settings and returns the
// request the server got.
func sendTeams(t *testing.T, settings map[string]any, n Notification) request {
	t.Helper()
	srv := newRecorder(t, http.StatusAccepted, "")
	settings["url"] = srv.URL + "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SIG"
	nt := mustNew(t, ReceiverConfig{Name: "ops-teams", Type: "teams", Settings: settings})
	if err := nt.Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/workflows/abc/triggers/manual/paths/invoke" ||
		req.Query != "api-version=1&sig=SIG" {
		t.Errorf("request %s %s?%s", req.Method, req.Path, req.Query)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return req
}

// decodeAdaptive decodes an Adaptive Card message and checks its envelope.
func decodeAdaptive(t *testing.T, body []byte) adaptiveEnvelope {
	t.Helper()
	var msg adaptiveEnvelope
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("the body is not JSON: %v\n%s", err, body)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		t.Fatalf("envelope: type %q, %d attachments", msg.Type, len(msg.Attachments))
	}
	a := msg.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || string(a.ContentURL) != "null" {
		t.Errorf("attachment: contentType %q contentUrl %s", a.ContentType, a.ContentURL)
	}
	c := a.Content
	if c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || c.Type != "AdaptiveCard" || c.Version != "1.5" {
		t.Errorf("card: $schema %q type %q version %q", c.Schema, c.Type, c.Version)
	}
	return msg
}

// blocksOf returns the card's elements of a type.
func blocksOf(msg adaptiveEnvelope, typ string) []map[string]any {
	var out []map[string]any
	for _, b := range msg.Attachments[0].Content.Body {
		if b["type"] == typ {
			out = append(out, b)
		}
	}
	return out
}

func TestTeamsAdaptiveCard(t *testing.T) {
	req := sendTeams(t, map[string]any{}, sample())
	msg := decodeAdaptive(t, req.Body)
	body := msg.Attachments[0].Content.Body

	title := body[0]
	if title["type"] != "TextBlock" || title["style"] != "heading" || title["color"] != "Attention" ||
		title["text"] != "orders_daily failed: source orders_db unreachable" {
		t.Errorf("title block = %v", title)
	}

	sets := blocksOf(msg, "FactSet")
	if len(sets) != 1 {
		t.Fatalf("%d FactSets, want 1", len(sets))
	}
	facts := map[string]string{}
	for _, f := range sets[0]["facts"].([]any) {
		m := f.(map[string]any)
		facts[m["title"].(string)] = m["value"].(string)
	}
	wantFacts := map[string]string{"Pipelines": "orders_daily", "Runs": "r-1001", "Severity": "critical", "Status": "firing",
		"Cause": `source "orders_db" unreachable`, "Diagnosis": "connectivity", "Confidence": "87%"}
	for k, v := range wantFacts {
		if facts[k] != v {
			t.Errorf("fact %s = %q, want %q", k, facts[k], v)
		}
	}

	var texts, mono []string
	for _, b := range blocksOf(msg, "TextBlock") {
		if b["fontType"] == "Monospace" {
			mono = append(mono, b["text"].(string))
		} else {
			texts = append(texts, b["text"].(string))
		}
	}
	if strings.Join(mono, "|") != "shp healing approve 42|shp run orders_daily --retry r-1001" {
		t.Errorf("monospace blocks = %q", mono)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"Run r-1001 of pipeline orders_daily failed", "Self-healing:** a retry is proposed",
		"run_failed (orders_daily): run r-1001 failed"} {
		if !strings.Contains(all, want) {
			t.Errorf("the card's text lacks %q:\n%s", want, all)
		}
	}

	actions := msg.Attachments[0].Content.Actions
	if len(actions) != 1 || actions[0]["type"] != "Action.OpenUrl" || actions[0]["url"] != "https://shp.example.com/incidents/inc-42" {
		t.Errorf("actions = %v", actions)
	}
}

func TestTeamsAdaptiveCardColorsAndLink(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Notification)
		color any
	}{
		{"resolved", func(n *Notification) { *n = resolved() }, "Good"},
		{"warning", func(n *Notification) { n.Severity = SeverityWarning }, "Warning"},
		{"info", func(n *Notification) { n.Severity = SeverityInfo }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := sample()
			tt.edit(&n)
			n.Link = ""
			msg := decodeAdaptive(t, sendTeams(t, map[string]any{}, n).Body)
			if got := msg.Attachments[0].Content.Body[0]["color"]; got != tt.color {
				t.Errorf("title color = %v, want %v", got, tt.color)
			}
			if acts := msg.Attachments[0].Content.Actions; len(acts) != 0 {
				t.Errorf("a card without a link has actions %v", acts)
			}
		})
	}
}

func TestTeamsCustomTemplates(t *testing.T) {
	req := sendTeams(t, map[string]any{
		"title_template": "{{upper .Status}} {{.IncidentID}}",
		"text_template":  "Incident {{.IncidentID}} on {{join \",\" .Pipelines}}",
	}, sample())
	msg := decodeAdaptive(t, req.Body)
	if got := msg.Attachments[0].Content.Body[0]["text"]; got != "FIRING inc-42" {
		t.Errorf("title = %v", got)
	}
	var texts []string
	for _, b := range blocksOf(msg, "TextBlock")[1:] {
		if b["fontType"] == nil {
			texts = append(texts, b["text"].(string))
		}
	}
	if len(texts) < 1 || texts[0] != "Incident inc-42 on orders_daily" {
		t.Errorf("text blocks = %q", texts)
	}
	for _, s := range texts {
		if strings.Contains(s, "Run r-1001 of pipeline") {
			t.Errorf("the default summary is shown beside text_template: %q", texts)
		}
	}
}

func TestTeamsMessageCard(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     Notification
		color string
	}{
		{"firing", sample(), "D13438"},
		{"resolved", resolved(), "2EB886"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := sendTeams(t, map[string]any{"format": "messagecard"}, tt.n)
			var card struct {
				Type       string `json:"@type"`
				Context    string `json:"@context"`
				ThemeColor string `json:"themeColor"`
				Summary    string `json:"summary"`
				Title      string `json:"title"`
				Sections   []struct {
					Facts []struct{ Name, Value string } `json:"facts"`
					Text  string                         `json:"text"`
				} `json:"sections"`
				PotentialAction []struct {
					Type    string `json:"@type"`
					Name    string `json:"name"`
					Targets []struct{ OS, URI string }
				} `json:"potentialAction"`
			}
			if err := json.Unmarshal(req.Body, &card); err != nil {
				t.Fatal(err)
			}
			if card.Type != "MessageCard" || card.Context != "https://schema.org/extensions" || card.ThemeColor != tt.color {
				t.Errorf("card: @type %q @context %q themeColor %q", card.Type, card.Context, card.ThemeColor)
			}
			if card.Title != tt.n.Title || card.Summary != tt.n.Title {
				t.Errorf("title %q summary %q", card.Title, card.Summary)
			}
			if len(card.Sections) != 1 {
				t.Fatalf("%d sections", len(card.Sections))
			}
			facts := map[string]string{}
			for _, f := range card.Sections[0].Facts {
				facts[f.Name] = f.Value
			}
			if facts["Pipelines"] != "orders_daily" || facts["Runs"] != "r-1001" || facts["Status"] != tt.n.Status {
				t.Errorf("facts = %v", facts)
			}
			for _, want := range []string{"Run r-1001 of pipeline orders_daily", "`shp healing approve 42`", "run_failed (orders_daily)"} {
				if !strings.Contains(card.Sections[0].Text, want) {
					t.Errorf("the section's text lacks %q:\n%s", want, card.Sections[0].Text)
				}
			}
			if len(card.PotentialAction) != 1 || card.PotentialAction[0].Type != "OpenUri" ||
				len(card.PotentialAction[0].Targets) != 1 || card.PotentialAction[0].Targets[0].URI != tt.n.Link {
				t.Errorf("potentialAction = %+v", card.PotentialAction)
			}
		})
	}
}

func TestTeamsMessageCardCustomText(t *testing.T) {
	n := sample()
	n.Link = "not a url"
	req := sendTeams(t, map[string]any{"format": "messagecard", "text_template": "see {{.IncidentID}}"}, n)
	var card map[string]any
	if err := json.Unmarshal(req.Body, &card); err != nil {
		t.Fatal(err)
	}
	text := card["sections"].([]any)[0].(map[string]any)["text"].(string)
	if !strings.HasPrefix(text, "see inc-42") || strings.Contains(text, "Run r-1001 of") {
		t.Errorf("text = %q", text)
	}
	if _, ok := card["potentialAction"]; ok {
		t.Error("a card with a link that is not a URL has potentialAction")
	}
}

// TestTeamsReplies checks how Teams' replies are taken: any 2xx is a
// success unless a legacy connector reports an error in a 200's body.
func TestTeamsReplies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		wantErr    bool
		retryable  bool
		code       int
		retryAfter time.Duration
	}{
		{"workflows 202", http.StatusAccepted, "", nil, false, false, 0, 0},
		{"connector 200", http.StatusOK, "1", nil, false, false, 0, 0},
		{"bad request", http.StatusBadRequest, `{"error":{"code":"InvalidCard"}}`, nil, true, false, 400, 0},
		{"not found", http.StatusNotFound, "", nil, true, false, 404, 0},
		{"throttled", http.StatusTooManyRequests, "", map[string]string{"Retry-After": "7"}, true, true, 429, 7 * time.Second},
		{"request timeout", http.StatusRequestTimeout, "", nil, true, true, 408, 0},
		{"server error", http.StatusBadGateway, "", nil, true, true, 502, 0},
		{"legacy 200 hiding a 429", http.StatusOK,
			"Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0", nil, true, true, 429, 0},
		{"legacy 200 hiding a 413", http.StatusOK,
			"Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0", nil, true, false, 413, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.status, tt.body)
			srv.set(tt.status, tt.body, tt.header)
			nt := mustNew(t, ReceiverConfig{Name: "ops-teams", Type: "teams", Settings: map[string]any{"url": srv.URL + "/hook"}})
			err := nt.Notify(t.Context(), sample())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Notify = %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			se := asSendError(t, err)
			if Retryable(err) != tt.retryable || se.StatusCode != tt.code || se.RetryAfter != tt.retryAfter {
				t.Errorf("retryable %v status %d retry after %v, want %v %d %v: %v",
					Retryable(err), se.StatusCode, se.RetryAfter, tt.retryable, tt.code, tt.retryAfter, err)
			}
			if !strings.HasPrefix(err.Error(), `receiver "ops-teams": HTTP `) {
				t.Errorf("error = %v", err)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if got := retryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); got != 90*time.Second {
		t.Errorf("retryAfter(date) = %v", got)
	}
	for _, v := range []string{"", "soon", "-5", now.Add(-time.Minute).Format(http.TimeFormat)} {
		if got := retryAfter(v, now); got != 0 {
			t.Errorf("retryAfter(%q) = %v, want 0", v, got)
		}
	}
}

// TestTeamsCardsDefangLinks: text from the data (a summary, a healing
// issue with sample values) cannot become a markdown link or image in
// either card format; the card's own link stays a link.
func TestTeamsCardsDefangLinks(t *testing.T) {
	for _, format := range []string{"adaptive", "messagecard"} {
		t.Run(format, func(t *testing.T) {
			n := sample()
			n.Summary = "values [pay here](https://evil.example/x) and ![img](https://evil.example/i.png)"
			n.Healing = "normalize: e.g. [x](javascript:alert(1))"
			n.Link = "https://shp.example.com/runs/r-1001"
			req := sendTeams(t, map[string]any{"format": format}, n)
			body := string(req.Body)
			if strings.Contains(body, "](https://evil") || strings.Contains(body, "](javascript") {
				t.Fatalf("a link survived: %s", body)
			}
			if !strings.Contains(body, "pay here") || !strings.Contains(body, "https://shp.example.com/runs/r-1001") {
				t.Fatalf("the text or the card's link is gone: %s", body)
			}
		})
	}
}

// adaptiveElements are the elements of the Adaptive Card schema
// (adaptivecards.io/schemas/adaptive-card.json, version 1.5) a card of
// shp uses: each property it may carry, with the values the schema's
// enums allow ("" for free text, "bool" for a boolean, "array" for a
// list).
var adaptiveElements = map[string]map[string][]string{
	"TextBlock": {
		"type": {"TextBlock"}, "text": {""}, "wrap": {"bool"},
		"size":     {"Default", "Small", "Medium", "Large", "ExtraLarge"},
		"weight":   {"Default", "Lighter", "Bolder"},
		"color":    {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"},
		"fontType": {"Default", "Monospace"},
		"spacing":  {"None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"},
		"style":    {"default", "heading"},
	},
	"FactSet":        {"type": {"FactSet"}, "facts": {"array"}},
	"Action.OpenUrl": {"type": {"Action.OpenUrl"}, "title": {""}, "url": {""}},
}

// checkElement reports what of el the schema's definition of its type
// does not allow.
func checkElement(t *testing.T, el map[string]any) {
	t.Helper()
	typ, _ := el["type"].(string)
	def, ok := adaptiveElements[typ]
	if !ok {
		t.Errorf("element type %q is not one the card should use", typ)
		return
	}
	for k, v := range el {
		allowed, ok := def[k]
		if !ok {
			t.Errorf("%s has property %q, which the schema does not define", typ, k)
			continue
		}
		switch {
		case len(allowed) == 1 && allowed[0] == "bool":
			if _, isBool := v.(bool); !isBool {
				t.Errorf("%s.%s = %v, want a boolean", typ, k, v)
			}
		case len(allowed) == 1 && allowed[0] == "array":
			items, isList := v.([]any)
			if !isList {
				t.Errorf("%s.%s = %v, want a list", typ, k, v)
			}
			for _, it := range items { // facts: title and value, strings
				f, _ := it.(map[string]any)
				if _, ok := f["title"].(string); !ok || len(f) != 2 {
					t.Errorf("fact %v: want a title and a value", it)
				}
				if _, ok := f["value"].(string); !ok {
					t.Errorf("fact %v: want a string value", it)
				}
			}
		case len(allowed) == 1 && allowed[0] == "":
			if s, isString := v.(string); !isString || s == "" {
				t.Errorf("%s.%s = %v, want text", typ, k, v)
			}
		default:
			s, _ := v.(string)
			found := false
			for _, a := range allowed {
				found = found || a == s
			}
			if !found {
				t.Errorf("%s.%s = %v, not one of %v", typ, k, v, allowed)
			}
		}
	}
}

// TestAdaptiveCardElementsFollowTheSchema checks every element of the
// cards of a firing, a resolved and a linked notification against the
// schema's definitions.
func TestAdaptiveCardElementsFollowTheSchema(t *testing.T) {
	linked := sample()
	linked.Link = "https://shp.example.com/runs/r-1001"
	for _, n := range []Notification{sample(), resolved(), linked} {
		msg := decodeAdaptive(t, sendTeams(t, map[string]any{}, n).Body)
		if len(msg.Attachments) != 1 || msg.Type != "message" {
			t.Fatalf("envelope %+v", msg)
		}
		c := msg.Attachments[0].Content
		for _, el := range c.Body {
			checkElement(t, el)
		}
		for _, a := range c.Actions {
			checkElement(t, a)
		}
	}
}
