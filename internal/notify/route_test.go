package notify

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in   string
		want Matcher
	}{
		{`severity="critical"`, Matcher{"severity", MatchEqual, "critical"}},
		{`pipeline=~"orders_.*"`, Matcher{"pipeline", MatchRegexp, "orders_.*"}},
		{`team!="data"`, Matcher{"team", MatchNotEqual, "data"}},
		{`team!~"data|ml"`, Matcher{"team", MatchNotRegexp, "data|ml"}},
		{`severity=critical`, Matcher{"severity", MatchEqual, "critical"}},
		{` pipeline =~ orders_.* `, Matcher{"pipeline", MatchRegexp, "orders_.*"}},
		{`team=""`, Matcher{"team", MatchEqual, ""}},
		{`team=`, Matcher{"team", MatchEqual, ""}},
		{`summary="say \"hi\"\n"`, Matcher{"summary", MatchEqual, "say \"hi\"\n"}},
		{`_x1="a=b"`, Matcher{"_x1", MatchEqual, "a=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMatcher(tt.in)
			if err != nil {
				t.Fatalf("ParseMatcher: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseMatcher = %+v, want %+v", got, tt.want)
			}
			// String gives back what ParseMatcher takes.
			again, err := ParseMatcher(got.String())
			if err != nil || again != got {
				t.Errorf("ParseMatcher(%q) = %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseMatcherErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`severity`, "want label OP value"},
		{`1team="a"`, "is not a label name"},
		{`team-name="a"`, `"team-name" is not a label name`},
		{`team ~ "a"`, "want an operator"},
		{`team="a`, "not a well-formed double-quoted string"},
		{`team="a" extra`, "not a well-formed double-quoted string"},
		{`team=a"b`, "cannot hold a double quote"},
		{`pipeline=~"orders_(.*"`, "bad regular expression"},
		{``, "want label OP value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseMatcher(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseMatcher(%q) = %v, want an error saying %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestMatcherMatches(t *testing.T) {
	labels := map[string]string{"pipeline": "orders_daily", "severity": "critical"}
	tests := []struct {
		matcher string
		want    bool
	}{
		{`severity="critical"`, true},
		{`severity="warning"`, false},
		{`severity!="warning"`, true},
		{`pipeline=~"orders_.*"`, true},
		// Anchored at both ends, as in Alertmanager.
		{`pipeline=~"orders"`, false},
		{`pipeline=~"daily"`, false},
		{`pipeline=~".*daily"`, true},
		{`pipeline=~"orders_daily|sales"`, true},
		{`pipeline!~"orders_.*"`, false},
		{`pipeline!~"orders"`, true},
		// A missing label has the empty value.
		{`team!="data"`, true},
		{`team=""`, true},
		{`team="data"`, false},
		{`team=~".*"`, true},
		{`team=~".+"`, false},
		{`team!~".+"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.matcher, func(t *testing.T) {
			m, err := ParseMatcher(tt.matcher)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(labels); got != tt.want {
				t.Errorf("%s matches %v = %v, want %v", tt.matcher, labels, got, tt.want)
			}
		})
	}
	// A matcher built by hand with a bad expression or operator matches nothing.
	for _, m := range []Matcher{{"pipeline", MatchRegexp, "("}, {"pipeline", "==", "orders_daily"}} {
		if m.Matches(labels) {
			t.Errorf("%+v matches", m)
		}
	}
}

// testTree is a routing tree like the monitoring config's:
//
//	route: receiver default
//	  - severity="critical"                 -> oncall (continue)
//	      - pipeline=~"orders_.*"           -> orders-pager
//	  - team="data"                         -> (inherits default)
//	      - severity="warning"              -> data-warnings
//	  - pipeline=~"orders_.*"               -> orders-email
//	  - pipeline=~"orders_.*"               -> never (after a match without continue)
func testTree(t *testing.T) *Route {
	t.Helper()
	r, err := ParseRoute(map[string]any{
		"receiver": "default",
		"group_by": []any{"pipeline"},
		"routes": []any{
			map[string]any{
				"matchers": []any{`severity="critical"`},
				"receiver": "oncall",
				"continue": true,
				"routes": []any{
					map[string]any{"matchers": []any{`pipeline=~"orders_.*"`}, "receiver": "orders-pager"},
				},
			},
			map[string]any{
				"matchers": []any{`team="data"`},
				"routes": []any{
					map[string]any{"matchers": []string{`severity="warning"`}, "receiver": "data-warnings"},
				},
			},
			map[string]any{"matchers": []any{`pipeline=~"orders_.*"`}, "receiver": "orders-email"},
			map[string]any{"matchers": []any{`pipeline=~"orders_.*"`}, "receiver": "never"},
		},
	})
	if err != nil {
		t.Fatalf("ParseRoute: %v", err)
	}
	return r
}

func TestRouteReceivers(t *testing.T) {
	tree := testTree(t)
	tests := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"no match at the root goes to the root's receiver", map[string]string{"pipeline": "sales"}, []string{"default"}},
		{"nothing at all", nil, []string{"default"}},
		{"first match wins", map[string]string{"pipeline": "orders_daily", "severity": "warning"}, []string{"orders-email"}},
		{"continue goes on to the next sibling", map[string]string{"pipeline": "orders_daily", "severity": "critical"},
			[]string{"orders-pager", "orders-email"}},
		{"continue, and a node without a matching child uses its own receiver", map[string]string{"pipeline": "sales", "severity": "critical"},
			[]string{"oncall"}},
		{"nested match", map[string]string{"team": "data", "severity": "warning", "pipeline": "sales"}, []string{"data-warnings"}},
		{"nested default inherits the parent's receiver", map[string]string{"team": "data", "severity": "info", "pipeline": "orders_x"},
			[]string{"default"}},
		{"regex anchored", map[string]string{"pipeline": "big_orders_daily"}, []string{"default"}},
		{"critical, team data: continue then the team's route", map[string]string{"team": "data", "severity": "critical", "pipeline": "sales"},
			[]string{"oncall", "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tree.Receivers(tt.labels); !slices.Equal(got, tt.want) {
				t.Errorf("Receivers(%v) = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}
}

func TestRouteNotEqualOnMissingLabel(t *testing.T) {
	r, err := ParseRoute(map[string]any{"receiver": "default", "routes": []any{
		map[string]any{"receiver": "not-data", "matchers": []any{`team!="data"`}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Receivers(map[string]string{"pipeline": "x"}); !slices.Equal(got, []string{"not-data"}) {
		t.Errorf("an alert without team goes to %v, want not-data", got)
	}
	if got := r.Receivers(map[string]string{"team": "data"}); !slices.Equal(got, []string{"default"}) {
		t.Errorf("an alert of team data goes to %v, want default", got)
	}
}

func TestRouteListsAReceiverOnce(t *testing.T) {
	r := &Route{Receiver: "all", Routes: []*Route{
		{Receiver: "ops", Continue: true},
		nil,
		{Receiver: "ops", Continue: true, Matchers: []Matcher{{"severity", MatchEqual, "critical"}}},
		{Receiver: "mail", Continue: true},
	}}
	if got := r.Receivers(map[string]string{"severity": "critical"}); !slices.Equal(got, []string{"ops", "mail"}) {
		t.Errorf("Receivers = %v", got)
	}
	if got := (*Route)(nil).Receivers(nil); got != nil {
		t.Errorf("a nil route has receivers %v", got)
	}
	if got := testTree(t).ReceiverNames(); !slices.Equal(got, []string{"data-warnings", "default", "never", "oncall", "orders-email", "orders-pager"}) {
		t.Errorf("ReceiverNames = %v", got)
	}
}

func TestParseRouteFields(t *testing.T) {
	tree := testTree(t)
	if !slices.Equal(tree.GroupBy, []string{"pipeline"}) || tree.Routes[1].GroupBy != nil {
		t.Errorf("group_by: root %v, child %v", tree.GroupBy, tree.Routes[1].GroupBy)
	}
	if !tree.Routes[0].Continue || tree.Routes[2].Continue {
		t.Error("continue is not read")
	}
	if m := tree.Routes[0].Routes[0].Matchers; len(m) != 1 || m[0] != (Matcher{"pipeline", MatchRegexp, "orders_.*"}) {
		t.Errorf("matchers = %+v", m)
	}
}

func TestParseRouteErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want []string
	}{
		{"nil", nil, []string{"route.receiver: the root route needs a receiver"}},
		{"no root receiver", map[string]any{"routes": []any{}}, []string{"route.receiver: the root route needs a receiver"}},
		{"root receiver not a string", map[string]any{"receiver": 5}, []string{"route.receiver: must be a receiver's name"}},
		{"root matchers", map[string]any{"receiver": "a", "matchers": []any{`a="b"`}}, []string{"route.matchers: the root route cannot have matchers"}},
		{"root continue", map[string]any{"receiver": "a", "continue": true}, []string{"route.continue: the root route cannot have continue"}},
		{"bad matcher", map[string]any{"receiver": "a", "routes": []any{
			map[string]any{"receiver": "b"},
			map[string]any{"receiver": "c", "matchers": []any{`team=~"(x"`, `ok="1"`}},
		}}, []string{`route.routes[1].matchers[0]: matcher "team=~\"(x\"": bad regular expression`}},
		{"matcher not a string", map[string]any{"receiver": "a", "routes": []any{
			map[string]any{"receiver": "b", "matchers": []any{`a="b"`, 7}},
		}}, []string{"route.routes[0].matchers[1]: must be a string"}},
		{"matchers not a list", map[string]any{"receiver": "a", "routes": []any{
			map[string]any{"receiver": "b", "matchers": `a="b"`},
		}}, []string{"route.routes[0].matchers: must be a list of strings"}},
		{"unknown key", map[string]any{"receiver": "a", "routes": []any{
			map[string]any{"receiver": "b", "match": map[string]any{"a": "b"}},
		}}, []string{`route.routes[0]: unknown key "match" (write matchers: ["name=value"] instead); the keys of a route are continue, group_by, matchers, receiver, routes`}},
		{"continue not a bool", map[string]any{"receiver": "a", "routes": []any{map[string]any{"continue": "yes"}}},
			[]string{"route.routes[0].continue: must be true or false"}},
		{"group_by not a label", map[string]any{"receiver": "a", "group_by": []any{"pipeline", "bad-name"}},
			[]string{`route.group_by[1]: "bad-name" is not a label name or ...`}},
		{"routes not a list", map[string]any{"receiver": "a", "routes": map[string]any{}}, []string{"route.routes: must be a list of routes"}},
		{"route not a map", map[string]any{"receiver": "a", "routes": []any{"b"}}, []string{"route.routes[0]: must be a route (a map)"}},
		{"deep and several", map[string]any{"receiver": "a", "routes": []any{
			map[string]any{"receiver": "b", "routes": []any{map[string]any{"receiver": "", "matchers": []any{"x"}}}},
		}}, []string{"route.routes[0].routes[0].receiver: must be a receiver's name", `route.routes[0].routes[0].matchers[0]: matcher "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRoute(tt.raw)
			if err == nil {
				t.Fatalf("ParseRoute = %+v, want an error", r)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestParseRouteGroupByAll(t *testing.T) {
	r, err := ParseRoute(map[string]any{"receiver": "a", "group_by": []any{"..."}, "continue": false})
	if err != nil || !slices.Equal(r.GroupBy, []string{"..."}) {
		t.Errorf("ParseRoute = %+v, %v", r, err)
	}
}
