package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

func init() { Register("teams", newTeams) }

// Teams card formats.
const (
	teamsAdaptive    = "adaptive"    // an Adaptive Card, what Teams Workflows webhooks accept
	teamsMessageCard = "messagecard" // the legacy Office 365 connector card
)

// maxListed caps the pipelines and runs a card lists.
const maxListed = 20

// teamsLegacyError finds the error a legacy Office 365 connector reports in
// the body of an HTTP 200 reply.
var teamsLegacyError = regexp.MustCompile(`returned HTTP error (\d{3})`)

// teams posts cards to a Microsoft Teams webhook.
//
// Settings:
//
//	url             the webhook's URL (required; a secret); https unless
//	                the host is localhost, 127.0.0.1 or ::1
//	format          adaptive (default: an Adaptive Card, for Teams
//	                Workflows) or messagecard (the legacy Office 365
//	                connector)
//	title_template  a text/template over the Notification for the title
//	text_template   a text/template over the Notification for the text,
//	                instead of the summary, healing and alerts
type teams struct {
	format string
	target *httpTarget
	render *renderer
}

// newTeams is the Factory of the teams kind.
func newTeams(cfg ReceiverConfig, opts Options) (Notifier, error) {
	s := newSettings(cfg, "url", "format", keyTitleTemplate, keyTextTemplate)
	u := parseURL(s, "url", s.required("url"), true)
	t := &teams{format: s.str("format", teamsAdaptive)}
	if t.format != teamsAdaptive && t.format != teamsMessageCard {
		s.errorf("format", "format must be %q or %q, got %q", teamsAdaptive, teamsMessageCard, t.format)
	}
	t.target = newHTTPTarget(s, "teams", u, opts)
	t.render = newRenderer(s)
	if err := s.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// Notify posts the notification's card. Teams answers 2xx (Workflows:
// 202) when it takes the card; a legacy connector may answer 200 with an
// error in the body, which is a failure with that error's status.
func (t *teams) Notify(ctx context.Context, n Notification) error {
	msg, err := t.render.render(n)
	if err != nil {
		return err
	}
	var payload any
	if t.format == teamsMessageCard {
		payload = messageCard(n, msg, t.render.text != nil)
	} else {
		payload = adaptiveMessage(n, msg, t.render.text != nil)
	}
	body, err := json.Marshal(defang(payload, ""))
	if err != nil {
		return fmt.Errorf("receiver %q: encoding the card: %w", t.target.receiver, err)
	}
	r, err := t.target.post(ctx, body, nil)
	if err != nil {
		return err
	}
	if err := t.target.check(r); err != nil {
		return err
	}
	if m := teamsLegacyError.FindSubmatch(r.body); m != nil {
		code, _ := strconv.Atoi(string(m[1]))
		return t.target.statusError(r, code)
	}
	return nil
}

// linkKeys are a card's keys whose values are meant to be URLs.
var linkKeys = map[string]bool{"url": true, "uri": true, "$schema": true, "@context": true, "contentType": true}

// defang breaks markdown links and images in every text of a card (key is
// the value's key in its object): Teams renders card text as markdown, and
// the text carries pipeline names, rule summaries and samples of data, so
// a value such as "[pay here](https://evil)" would become a link. A
// zero-width space between "]" and "(" keeps the text as it reads.
func defang(v any, key string) any {
	switch x := v.(type) {
	case string:
		if linkKeys[key] {
			return x
		}
		return strings.ReplaceAll(x, "](", "]\u200b(")
	case map[string]any:
		for k, e := range x {
			x[k] = defang(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = defang(e, key)
		}
		return x
	}
	return v
}

// fact is one name and value of a card.
type fact struct{ name, value string }

// cardFacts are the facts a card shows, those with a value.
func cardFacts(n Notification) []fact {
	all := []fact{
		{"Pipelines", joinCapped(n.Pipelines, ", ", maxListed)},
		{"Runs", joinCapped(n.Runs, ", ", maxListed)},
		{"Severity", n.Severity},
		{"Status", n.Status},
		{"Cause", n.Cause},
		{"Diagnosis", n.Diagnosis},
		{"Confidence", percent(n.Confidence)},
	}
	var out []fact
	for _, f := range all {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

// cardLink returns n's link when it is an absolute http(s) URL, which
// Teams requires of an action; "" otherwise.
func cardLink(n Notification) string {
	u, err := url.Parse(n.Link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return n.Link
}

// alertLines lists the alerts shown, one markdown list item each.
func alertLines(n Notification) string {
	v := newView(n)
	if len(v.Shown) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Alerts (%d):", len(n.Alerts))
	for _, a := range v.Shown {
		fmt.Fprintf(&b, "\n- [%s] %s", orDefault(a.Status, n.Status), a.Rule)
		if a.Pipeline != "" {
			fmt.Fprintf(&b, " (%s)", a.Pipeline)
		}
		if a.Summary != "" {
			fmt.Fprintf(&b, ": %s", a.Summary)
		}
	}
	if v.More > 0 {
		fmt.Fprintf(&b, "\n- and %d more", v.More)
	}
	return b.String()
}

// adaptiveMessage is the message with an Adaptive Card that Teams
// Workflows webhooks accept.
func adaptiveMessage(n Notification, msg Rendered, customText bool) map[string]any {
	title := map[string]any{"type": "TextBlock", "text": msg.Title, "size": "Large",
		"weight": "Bolder", "style": "heading", "wrap": true}
	if color := adaptiveColor(n); color != "" {
		title["color"] = color
	}
	body := []any{title}
	var facts []any
	for _, f := range cardFacts(n) {
		facts = append(facts, map[string]any{"title": f.name, "value": f.value})
	}
	if len(facts) > 0 {
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	text := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			body = append(body, map[string]any{"type": "TextBlock", "text": s, "wrap": true})
		}
	}
	if customText {
		text(msg.Text)
	} else {
		text(n.Summary)
		if n.Healing != "" {
			text("**Self-healing:** " + n.Healing)
		}
	}
	if len(n.Commands) > 0 {
		text("**To act, run:**")
		for _, c := range n.Commands {
			body = append(body, map[string]any{"type": "TextBlock", "text": c,
				"fontType": "Monospace", "wrap": true, "spacing": "Small"})
		}
	}
	if !customText {
		text(alertLines(n))
	}
	content := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.5", // TextBlock style heading is 1.5; Teams renders 1.5
		"body":    body,
	}
	if link := cardLink(n); link != "" {
		content["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open in shp", "url": link}}
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     content,
		}},
	}
}

// adaptiveColor is the title's color: attention for a critical incident
// firing, warning for a warning firing, good once resolved.
func adaptiveColor(n Notification) string {
	switch {
	case n.Status == StatusResolved:
		return "Good"
	case n.Severity == SeverityCritical:
		return "Attention"
	case n.Severity == SeverityWarning:
		return "Warning"
	}
	return ""
}

// messageCard is the legacy Office 365 connector card.
func messageCard(n Notification, msg Rendered, customText bool) map[string]any {
	var facts []any
	for _, f := range cardFacts(n) {
		facts = append(facts, map[string]any{"name": f.name, "value": f.value})
	}
	var paras []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			paras = append(paras, s)
		}
	}
	if customText {
		add(msg.Text)
	} else {
		add(n.Summary)
		if n.Healing != "" {
			add("**Self-healing:** " + n.Healing)
		}
	}
	if len(n.Commands) > 0 {
		lines := []string{"**To act, run:**"}
		for _, c := range n.Commands {
			lines = append(lines, "`"+strings.ReplaceAll(c, "`", "'")+"`")
		}
		add(strings.Join(lines, "\n\n"))
	}
	if !customText {
		add(alertLines(n))
	}
	section := map[string]any{"markdown": true}
	if len(facts) > 0 {
		section["facts"] = facts
	}
	if len(paras) > 0 {
		section["text"] = strings.Join(paras, "\n\n")
	}
	card := map[string]any{
		"@type":      "MessageCard",
		"@context":   "https://schema.org/extensions",
		"themeColor": themeColor(n),
		"summary":    msg.Title,
		"title":      msg.Title,
		"sections":   []any{section},
	}
	if link := cardLink(n); link != "" {
		card["potentialAction"] = []any{map[string]any{
			"@type":   "OpenUri",
			"name":    "Open in shp",
			"targets": []any{map[string]any{"os": "default", "uri": link}},
		}}
	}
	return card
}

// themeColor is a MessageCard's accent color.
func themeColor(n Notification) string {
	switch {
	case n.Status == StatusResolved:
		return "2EB886"
	case n.Severity == SeverityCritical:
		return "D13438"
	case n.Severity == SeverityWarning:
		return "FFB900"
	}
	return "0078D7"
}

// joinCapped joins at most limit items of list with sep, saying how many
// more there are.
func joinCapped(list []string, sep string, limit int) string {
	if len(list) <= limit {
		return strings.Join(list, sep)
	}
	return strings.Join(list[:limit], sep) + fmt.Sprintf(" and %d more", len(list)-limit)
}
