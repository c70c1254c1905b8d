package notify

import (
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Matcher operators.
const (
	MatchEqual     = "="
	MatchNotEqual  = "!="
	MatchRegexp    = "=~"
	MatchNotRegexp = "!~"
)

// Matcher is label OP value, OP one of = != =~ !~ (regex anchored like
// Alertmanager's). A label an alert does not have has the empty value, so
// `team!="data"` matches an alert without team and `team=""` matches only
// one without it.
type Matcher struct {
	Name  string // the label's name
	Op    string // MatchEqual, MatchNotEqual, MatchRegexp or MatchNotRegexp
	Value string // the value, or the regular expression for =~ and !~
}

// labelName is a label name as Prometheus and Alertmanager take it.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseMatcher parses one matcher: `severity="critical"`,
// `pipeline=~"orders_.*"`, `team!=data` (a value may be unquoted; a quoted
// one is a Go/Prometheus double-quoted string). A regular expression is
// anchored at both ends, as in Alertmanager: `=~"orders"` does not match
// "orders_daily".
func ParseMatcher(s string) (Matcher, error) {
	src := strings.TrimSpace(s)
	end := strings.IndexAny(src, "=!~ \t")
	if end < 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want label OP value, OP one of = != =~ !~", s)
	}
	m := Matcher{Name: src[:end]}
	if !labelName.MatchString(m.Name) {
		return Matcher{}, fmt.Errorf("matcher %q: %q is not a label name (letters, digits and _, not starting with a digit)", s, m.Name)
	}
	rest := strings.TrimLeft(src[end:], " \t")
	for _, op := range []string{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(rest, op) {
			m.Op, rest = op, strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if m.Op == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want an operator, one of = != =~ !~, after %q", s, m.Name)
	}
	switch {
	case strings.HasPrefix(rest, `"`):
		v, err := strconv.Unquote(rest)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: the value is not a well-formed double-quoted string", s)
		}
		m.Value = v
	case strings.ContainsAny(rest, `"`):
		return Matcher{}, fmt.Errorf("matcher %q: an unquoted value cannot hold a double quote", s)
	default:
		m.Value = rest
	}
	if m.Op == MatchRegexp || m.Op == MatchNotRegexp {
		if _, err := compileAnchored(m.Value); err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %w", s, err)
		}
	}
	return m, nil
}

// String returns the matcher as ParseMatcher takes it, the value quoted.
func (m Matcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// Matches reports whether labels satisfy the matcher. A regular expression
// that does not compile matches nothing (ParseMatcher refuses it).
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp, MatchNotRegexp:
		re, err := compileAnchored(m.Value)
		if err != nil {
			return false
		}
		return re.MatchString(v) == (m.Op == MatchRegexp)
	}
	return false
}

// regexps caches the compiled regular expressions of matchers.
var regexps sync.Map // string -> *regexp.Regexp

// compileAnchored compiles expr anchored at both ends, as Alertmanager
// does: ^(?:expr)$.
func compileAnchored(expr string) (*regexp.Regexp, error) {
	if re, ok := regexps.Load(expr); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("bad regular expression: %w", err)
	}
	regexps.Store(expr, re)
	return re, nil
}

// Route is a node of the routing tree, as in Alertmanager.
type Route struct {
	Receiver string    // "" inherits the parent's receiver
	Matchers []Matcher // all must match for the node to match
	Continue bool      // after this node matches, try its next siblings too
	GroupBy  []string  // labels grouping alerts into notifications; nil inherits the parent's
	Routes   []*Route  // child nodes, tried in order
}

// Receivers returns the receivers a label set goes to: depth-first, the
// first matching child wins unless it has Continue, and a node with no
// matching child uses its own receiver (as Alertmanager does). A
// receiver reached by several routes is listed once, in the order found.
// The root normally has no matchers, so every label set has a receiver.
func (r *Route) Receivers(labels map[string]string) []string {
	if r == nil {
		return nil
	}
	found, _ := r.match(labels, "")
	var out []string
	for _, name := range found {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// match returns the receivers of the nodes under r that labels go to, and
// whether r matched at all; inherited is the receiver of r's parent.
func (r *Route) match(labels map[string]string, inherited string) ([]string, bool) {
	for _, m := range r.Matchers {
		if !m.Matches(labels) {
			return nil, false
		}
	}
	receiver := orDefault(r.Receiver, inherited)
	var all []string
	matched := false
	for _, child := range r.Routes {
		if child == nil {
			continue
		}
		found, ok := child.match(labels, receiver)
		if !ok {
			continue
		}
		all, matched = append(all, found...), true
		if !child.Continue {
			break
		}
	}
	if !matched {
		all = append(all, receiver)
	}
	return all, true
}

// ReceiverNames returns every receiver the tree names, sorted, so that a
// configuration can check each is defined.
func (r *Route) ReceiverNames() []string {
	var out []string
	var walk func(*Route)
	walk = func(n *Route) {
		if n == nil {
			return
		}
		if n.Receiver != "" && !slices.Contains(out, n.Receiver) {
			out = append(out, n.Receiver)
		}
		for _, c := range n.Routes {
			walk(c)
		}
	}
	walk(r)
	slices.Sort(out)
	return out
}

// routeKeys are the keys a route takes.
var routeKeys = []string{"continue", "group_by", "matchers", "receiver", "routes"}

// ParseRoute builds the routing tree from its configuration, as parsed
// from YAML. The keys of a route are receiver (a string), matchers (a list
// of strings ParseMatcher takes), continue (a bool), group_by (a list of
// label names, or "..." for all labels) and routes (a list of routes).
// The root needs a receiver and can have neither matchers nor continue,
// as in Alertmanager. Errors name the path of what is wrong, e.g.
// `route.routes[1].matchers[0]: ...`; all of them are returned, joined.
func ParseRoute(raw map[string]any) (*Route, error) {
	var errs []error
	r := parseRoute(raw, "route", &errs)
	if raw["receiver"] == nil {
		errs = append(errs, errors.New("route.receiver: the root route needs a receiver"))
	}
	if len(r.Matchers) > 0 {
		errs = append(errs, errors.New("route.matchers: the root route cannot have matchers; it takes every alert"))
	}
	if r.Continue {
		errs = append(errs, errors.New("route.continue: the root route cannot have continue"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// parseRoute parses the route at path, appending its errors to errs.
func parseRoute(raw map[string]any, path string, errs *[]error) *Route {
	fail := func(at, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	r := &Route{}
	for _, k := range sortedKeys(raw) {
		if slices.Contains(routeKeys, k) {
			continue
		}
		hint := ""
		if k == "match" || k == "match_re" {
			hint = ` (write matchers: ["name=value"] instead)`
		}
		fail(path, "unknown key %q%s; the keys of a route are %s", k, hint, strings.Join(routeKeys, ", "))
	}
	if v, ok := raw["receiver"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr || strings.TrimSpace(s) == "" {
			fail(path+".receiver", "must be a receiver's name")
		}
		r.Receiver = strings.TrimSpace(s)
	}
	if v, ok := raw["continue"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			fail(path+".continue", "must be true or false")
		}
		r.Continue = b
	}
	for i, s := range stringItems(raw, "matchers", path, fail) {
		m, err := ParseMatcher(s)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s.matchers[%d]: %w", path, i, err))
			continue
		}
		r.Matchers = append(r.Matchers, m)
	}
	if _, ok := raw["group_by"]; ok {
		r.GroupBy = []string{}
		for i, s := range stringItems(raw, "group_by", path, fail) {
			if s != "..." && !labelName.MatchString(s) {
				fail(fmt.Sprintf("%s.group_by[%d]", path, i), "%q is not a label name or ...", s)
				continue
			}
			r.GroupBy = append(r.GroupBy, s)
		}
	}
	if v, ok := raw["routes"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			fail(path+".routes", "must be a list of routes")
		}
		for i, item := range list {
			at := fmt.Sprintf("%s.routes[%d]", path, i)
			m, isMap := item.(map[string]any)
			if !isMap {
				fail(at, "must be a route (a map)")
				continue
			}
			r.Routes = append(r.Routes, parseRoute(m, at, errs))
		}
	}
	return r
}

// stringItems returns the strings of the list under key, by their index
// in the list; an item that is not a string is an error, and left out.
func stringItems(raw map[string]any, key, path string, fail func(at, format string, args ...any)) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		v, ok := raw[key]
		if !ok || v == nil {
			return
		}
		var list []any
		switch x := v.(type) {
		case []string:
			for _, s := range x {
				list = append(list, s)
			}
		case []any:
			list = x
		default:
			fail(path+"."+key, "must be a list of strings")
			return
		}
		for i, item := range list {
			s, isStr := item.(string)
			if !isStr {
				fail(fmt.Sprintf("%s.%s[%d]", path, key, i), "must be a string")
				continue
			}
			if !yield(i, s) {
				return
			}
		}
	}
}
