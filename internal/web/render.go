package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/service"
)

// page is one page's templates: the layout, the shared parts and its own.
type page struct {
	tmpl *template.Template
	nav  string // the dashboard it belongs to, for the navigation
}

// pageNames are the pages and the dashboard each belongs to.
var pageNames = map[string]string{
	"overview": "overview", "pipeline": "overview", "run": "overview", "quarantine": "overview",
	"quality": "quality", "rule": "quality",
	"healing":     "healing",
	"performance": "performance",
	"alerts":      "alerts",
	"login":       "", "continue": "", "error": "",
}

// parsePages parses every page's templates; a template that does not
// parse is a programming error, caught by the tests.
func parsePages() map[string]*page {
	out := map[string]*page{}
	for name, nav := range pageNames {
		t := template.Must(template.New("base.html").Funcs(funcs).ParseFS(templateFiles,
			"templates/base.html", "templates/parts.html", "templates/"+name+".html"))
		out[name] = &page{tmpl: t, nav: nav}
	}
	return out
}

// pageData is what the layout reads; Body is the page's own.
type pageData struct {
	Title, Nav string
	Signed     bool
	User       service.Principal
	CSRF       string
	Operator   bool
	Path       string
	Body       any
}

// render writes a whole page. It is rendered into a buffer first, so
// that a template error is a clean 500 and not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name, title string, body any) {
	u.once.Do(u.init)
	p := u.pages[name]
	sess := sessionFrom(r.Context())
	d := pageData{Title: title, Nav: p.nav, Body: body, Path: r.URL.Path}
	if sess.Principal.Role != "" {
		d.Signed, d.User, d.CSRF, d.Operator = true, sess.Principal, sess.CSRF, sess.Principal.Role.Allows(service.Operator)
	}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "base", d); err != nil {
		u.logger().Error("web: render", "page", name, "err", err)
		http.Error(w, "the page cannot be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderFragment writes one block of a page (for htmx).
func (u *UI) renderFragment(w http.ResponseWriter, r *http.Request, name, block string, body any) {
	sess := sessionFrom(r.Context())
	d := pageData{Body: body, Signed: true, User: sess.Principal, CSRF: sess.CSRF, Operator: sess.Principal.Role.Allows(service.Operator)}
	var buf bytes.Buffer
	if err := u.pages[name].tmpl.ExecuteTemplate(&buf, block, d); err != nil {
		u.logger().Error("web: render", "page", name, "block", block, "err", err)
		http.Error(w, "the page cannot be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// errorPage writes a page that says what went wrong.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, status, "error", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, msg})
}

// fail answers a service error with its status: the error's text for
// what the caller can act on, a generic text (and the log) otherwise.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *service.FieldError
	switch {
	case errors.As(err, &fe):
		u.errorPage(w, r, http.StatusBadRequest, fe.Error())
	case errors.Is(err, service.ErrNotFound):
		u.errorPage(w, r, http.StatusNotFound, "Not found: "+err.Error())
	case errors.Is(err, service.ErrConflict):
		u.errorPage(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, service.ErrUnavailable):
		u.errorPage(w, r, http.StatusServiceUnavailable, err.Error())
	default:
		u.logger().Error("web: request failed", "path", r.URL.Path, "err", err)
		u.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on the server; the log says what.")
	}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"symbol":   symbol,
	"when":     when,
	"ago":      ago,
	"seconds":  seconds,
	"duration": duration,
	"num":      num,
	"bytes":    byteSize,
	"secs":     func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) },
	"dollars":  func(f float64) string { return "$" + strconv.FormatFloat(f, 'f', 2, 64) },
	"pct":      func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
	"score": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	},
	"pretty": func(raw json.RawMessage) string {
		var buf bytes.Buffer
		if len(raw) == 0 || json.Indent(&buf, raw, "", "  ") != nil {
			return string(raw)
		}
		return buf.String()
	},
	"clip": clip,
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"barw": func(share float64) int { return int(share*200 + 0.5) },
	"sub":  func(a, b int) int { return a - b },
	"deref": func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"quarantineOf": func(runID string, q service.QuarantinePage) quarantineData {
		return quarantineData{RunID: runID, Quarantine: q, Prev: max(q.Offset-quarantinePageSize, 0), Next: q.Offset + len(q.Rows)}
	},
}

// symbol marks a status with a sign, so that colour is not its only
// signal.
func symbol(status string) string {
	switch status {
	case "succeeded", "applied", "resolved", "approved", "sent":
		return "✓"
	case "failed", "rejected", "rolled_back":
		return "✗"
	case "held", "proposed", "pending":
		return "⏸"
	case "running", "queued":
		return "↻"
	case "paused":
		return "‖"
	case "escalated", "firing":
		return "!"
	case "reverted":
		return "↶"
	}
	return "•"
}

func when(t any) string {
	switch x := t.(type) {
	case *time.Time:
		if x == nil {
			return "–"
		}
		return x.UTC().Format("2006-01-02\u00a015:04:05\u00a0UTC")
	case time.Time:
		if x.IsZero() {
			return "–"
		}
		return x.UTC().Format("2006-01-02\u00a015:04:05\u00a0UTC")
	}
	return "–"
}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	d := time.Since(*t)
	if d < 0 {
		return "in " + duration(-d)
	}
	return duration(d) + " ago"
}

func seconds(p *float64) string {
	if p == nil {
		return "–"
	}
	return duration(time.Duration(*p * float64(time.Second)))
}

func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// num writes n with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func byteSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// maxSeries is how many lines a chart draws; the others are summed up in
// its caption.
const maxSeries = 12

// chart is one chart: its data as JSON for app.js (uPlot) and a summary
// in words for those who cannot see it.
type chart struct {
	ID, Title, Kind, Unit string
	// Spec is {"kind","unit","x":[unix seconds],"series":[{"label","values"}]}.
	Spec string
	// Points counts the values drawn; Empty is said instead when there
	// are none.
	Points  int
	Empty   string
	Summary string
}

// series gathers a chart's values by label and time.
type series struct {
	data map[string]map[int64]float64
	xs   map[int64]bool
}

func newSeries() *series {
	return &series{data: map[string]map[int64]float64{}, xs: map[int64]bool{}}
}

// add sets a label's value at a time.
func (s *series) add(label string, at time.Time, v float64) {
	if s.data[label] == nil {
		s.data[label] = map[int64]float64{}
	}
	x := at.Unix()
	s.data[label][x] = v
	s.xs[x] = true
}

// sum adds v to a label's value at a time.
func (s *series) sum(label string, at time.Time, v float64) {
	if s.data[label] == nil {
		s.data[label] = map[int64]float64{}
	}
	x := at.Unix()
	s.data[label][x] += v
	s.xs[x] = true
}

// chart lays the values out for uPlot: one x axis (the union of the
// times), a series per label in name order, null where a label has no
// value at a time.
func (s *series) chart(id, title, kind, unit string) chart {
	c := chart{ID: id, Title: title, Kind: kind, Unit: unit, Empty: "No runs on record yet."}
	xs := make([]int64, 0, len(s.xs))
	for x := range s.xs {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	labels := make([]string, 0, len(s.data))
	for l := range s.data {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	type line struct {
		Label  string     `json:"label"`
		Values []*float64 `json:"values"`
	}
	spec := struct {
		Kind   string  `json:"kind"`
		Unit   string  `json:"unit"`
		X      []int64 `json:"x"`
		Series []line  `json:"series"`
	}{Kind: kind, Unit: unit, X: xs, Series: []line{}}
	var last []string
	for i, l := range labels {
		if i == maxSeries {
			last = append(last, fmt.Sprintf("and %d more not drawn", len(labels)-maxSeries))
			break
		}
		ln := line{Label: l, Values: make([]*float64, len(xs))}
		var latest *float64
		for j, x := range xs {
			if v, ok := s.data[l][x]; ok {
				ln.Values[j] = &v
				latest = &v
				c.Points++
			}
		}
		if latest != nil {
			last = append(last, l+" "+strconv.FormatFloat(*latest, 'g', 4, 64))
		}
		spec.Series = append(spec.Series, ln)
	}
	b, _ := json.Marshal(spec)
	c.Spec = string(b)
	if c.Points > 0 {
		c.Summary = fmt.Sprintf("%d values from %s to %s; latest: %s.", c.Points,
			time.Unix(xs[0], 0).UTC().Format("2006-01-02 15:04"), time.Unix(xs[len(xs)-1], 0).UTC().Format("2006-01-02 15:04"),
			strings.Join(last, ", "))
	}
	return c
}
