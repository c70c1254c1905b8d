package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"
)

// MaxListedAlerts is how many alerts a rendered notification lists; the
// rest are counted ("and N more").
const MaxListedAlerts = 20

// Settings every receiver that renders text accepts.
const (
	keyTitleTemplate = "title_template"
	keyTextTemplate  = "text_template"
)

// templateFuncs are the functions title_template and text_template (and
// the default templates) may call, besides text/template's own:
//
//	join SEP LIST      the strings of LIST joined with SEP
//	upper S, lower S   S in upper or lower case
//	percent F          a 0..1 confidence as a percentage, "87%"; "" for 0
//	time T             T in UTC, "2006-01-02 15:04:05 UTC"; "" for zero
var templateFuncs = map[string]any{
	"join":    func(sep string, list []string) string { return strings.Join(list, sep) },
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"percent": percent,
	"time":    formatTime,
}

// Rendered is a notification rendered for people to read.
type Rendered struct {
	Title string // one line
	Text  string // plain text
	HTML  string // an HTML fragment, everything escaped
}

// Render renders n with the default templates: the title, and a body in
// plain text and HTML telling what happened, to which pipelines and runs,
// the cause, the diagnosis and its confidence, what self-healing did or
// proposes, the commands to run, the link and the alerts (at most
// MaxListedAlerts of them).
func Render(n Notification) (Rendered, error) {
	return (&renderer{}).render(n)
}

// renderer renders notifications, with a receiver's own templates when
// it has them.
type renderer struct {
	receiver string
	title    *texttemplate.Template // nil: the default title
	text     *texttemplate.Template // nil: the default bodies
}

// newRenderer reads the title_template and text_template settings; a
// template that does not parse is a ConfigError naming the key.
func newRenderer(s *settings) *renderer {
	r := &renderer{receiver: s.receiver}
	r.title = parseTemplate(s, keyTitleTemplate)
	r.text = parseTemplate(s, keyTextTemplate)
	return r
}

// parseTemplate parses the template of setting key, nil when it is unset.
func parseTemplate(s *settings, key string) *texttemplate.Template {
	src := s.str(key, "")
	if strings.TrimSpace(src) == "" {
		return nil
	}
	t, err := texttemplate.New(key).Funcs(templateFuncs).Option("missingkey=zero").Parse(src)
	if err != nil {
		s.errs = append(s.errs, &ConfigError{Receiver: s.receiver, Key: key,
			Msg: fmt.Sprintf("%s does not parse: %v", key, err), Err: err})
		return nil
	}
	return t
}

// render renders n. A receiver's template that fails is a ConfigError.
func (r *renderer) render(n Notification) (Rendered, error) {
	v := newView(n)
	var out Rendered
	var err error
	if r.title != nil {
		out.Title, err = r.execute(r.title, keyTitleTemplate, n)
		if err != nil {
			return Rendered{}, err
		}
		out.Title = strings.Join(strings.Fields(out.Title), " ")
	} else {
		out.Title = v.DefaultTitle
	}
	if r.text != nil {
		out.Text, err = r.execute(r.text, keyTextTemplate, n)
		if err != nil {
			return Rendered{}, err
		}
		out.HTML = "<pre>" + htmltemplate.HTMLEscapeString(out.Text) + "</pre>"
		return out, nil
	}
	var buf bytes.Buffer
	if err := defaultText.Execute(&buf, v); err != nil {
		return Rendered{}, fmt.Errorf("rendering the notification: %w", err)
	}
	out.Text = blankLines.ReplaceAllString(buf.String(), "\n\n")
	buf.Reset()
	if err := defaultHTML.Execute(&buf, v); err != nil {
		return Rendered{}, fmt.Errorf("rendering the notification: %w", err)
	}
	out.HTML = buf.String()
	return out, nil
}

// execute runs a receiver's template over n.
func (r *renderer) execute(t *texttemplate.Template, key string, n Notification) (string, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, n); err != nil {
		return "", &ConfigError{Receiver: r.receiver, Key: key,
			Msg: fmt.Sprintf("%s failed: %v", key, err), Err: err}
	}
	return buf.String(), nil
}

// view is what the default templates show.
type view struct {
	Notification
	DefaultTitle string
	StatusUpper  string  // FIRING or RESOLVED
	Confidence   string  // "87%", "" when unknown
	Shown        []Alert // the alerts listed
	More         int     // the alerts not listed
	Resolved     bool
}

// newView prepares n for the default templates.
func newView(n Notification) view {
	v := view{Notification: n, StatusUpper: strings.ToUpper(orDefault(n.Status, StatusFiring)),
		Confidence: percent(n.Confidence), Resolved: n.Status == StatusResolved}
	v.Shown = n.Alerts
	if len(v.Shown) > MaxListedAlerts {
		v.Shown, v.More = v.Shown[:MaxListedAlerts], len(n.Alerts)-MaxListedAlerts
	}
	v.DefaultTitle = defaultTitle(n)
	return v
}

// defaultTitle is the notification's title, or one made of what it has.
func defaultTitle(n Notification) string {
	title := strings.TrimSpace(n.Title)
	switch {
	case title != "":
	case len(n.Alerts) > 0 && n.Alerts[0].Rule != "" && len(n.Pipelines) > 0:
		title = fmt.Sprintf("%s on %s", n.Alerts[0].Rule, strings.Join(n.Pipelines, ", "))
	case n.Summary != "":
		title = n.Summary
	default:
		title = "shp incident " + n.IncidentID
	}
	return strings.Join(strings.Fields(title), " ")
}

// percent shows a 0..1 confidence as a percentage, "" when it is unknown.
func percent(c float64) string {
	if c <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", min(c, 1)*100)
}

// formatTime shows t in UTC, "" when it is zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// defaultTextSource is the plain-text body.
const defaultTextSource = `{{.StatusUpper}}{{with .Severity}} [{{.}}]{{end}} {{.DefaultTitle}}
{{with .Summary}}
What happened: {{.}}
{{end}}
{{- with .Pipelines}}
Pipelines: {{join ", " .}}{{end}}
{{- with .Runs}}
Runs: {{join ", " .}}{{end}}
{{- with .Cause}}
Cause: {{.}}{{end}}
{{- if .Diagnosis}}
Diagnosis: {{.Diagnosis}}{{with .Confidence}} (confidence {{.}}){{end}}
{{- else if .Confidence}}
Confidence: {{.Confidence}}{{end}}
{{- with .Healing}}
Self-healing: {{.}}{{end}}
{{- with .Commands}}

To act, run:
{{- range .}}
  {{.}}
{{- end}}{{end}}
{{- with .Link}}

Details: {{.}}{{end}}
{{- with .Shown}}

Alerts ({{len $.Alerts}}):
{{- range .}}
- [{{.Status}}{{with .Severity}} {{.}}{{end}}] {{.Rule}}{{with .Pipeline}} ({{.}}){{end}}{{with .Summary}}: {{.}}{{end}}
{{- end}}
{{- with $.More}}
  and {{.}} more{{end}}{{end}}
{{- with .Suppressed}}

{{.}} raw alerts were folded into this incident.{{end}}

Incident {{.IncidentID}}{{with time .StartsAt}}, started {{.}}{{end}}{{if .Resolved}}{{with time .EndsAt}}, resolved {{.}}{{end}}{{end}}
`

// defaultHTMLSource is the HTML body; html/template escapes every value.
const defaultHTMLSource = `<div style="font-family:sans-serif">
<h2>{{.StatusUpper}}{{with .Severity}} [{{.}}]{{end}} {{.DefaultTitle}}</h2>
{{with .Summary}}<p><b>What happened:</b> {{.}}</p>
{{end}}<table>
{{with .Pipelines}}<tr><th align="left">Pipelines</th><td>{{join ", " .}}</td></tr>
{{end}}{{with .Runs}}<tr><th align="left">Runs</th><td>{{join ", " .}}</td></tr>
{{end}}{{with .Cause}}<tr><th align="left">Cause</th><td>{{.}}</td></tr>
{{end}}{{with .Diagnosis}}<tr><th align="left">Diagnosis</th><td>{{.}}</td></tr>
{{end}}{{with .Confidence}}<tr><th align="left">Confidence</th><td>{{.}}</td></tr>
{{end}}{{with .Healing}}<tr><th align="left">Self-healing</th><td>{{.}}</td></tr>
{{end}}</table>
{{with .Commands}}<p><b>To act, run:</b></p>
<pre>{{range .}}{{.}}
{{end}}</pre>
{{end}}{{with .Link}}<p><a href="{{.}}">Details</a></p>
{{end}}{{with .Shown}}<p><b>Alerts ({{len $.Alerts}}):</b></p>
<ul>
{{range .}}<li>[{{.Status}}{{with .Severity}} {{.}}{{end}}] {{.Rule}}{{with .Pipeline}} ({{.}}){{end}}{{with .Summary}}: {{.}}{{end}}</li>
{{end}}{{with $.More}}<li>and {{.}} more</li>
{{end}}</ul>
{{end}}{{with .Suppressed}}<p>{{.}} raw alerts were folded into this incident.</p>
{{end}}<p style="color:#666">Incident {{.IncidentID}}{{with time .StartsAt}}, started {{.}}{{end}}{{if .Resolved}}{{with time .EndsAt}}, resolved {{.}}{{end}}{{end}}</p>
</div>
`

var (
	// blankLines are runs of empty lines the sections left out leave.
	blankLines  = regexp.MustCompile(`\n{3,}`)
	defaultText = texttemplate.Must(texttemplate.New("text").Funcs(templateFuncs).Parse(defaultTextSource))
	defaultHTML = htmltemplate.Must(htmltemplate.New("html").Funcs(templateFuncs).Parse(defaultHTMLSource))
)
