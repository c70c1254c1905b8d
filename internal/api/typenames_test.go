package api

import (
	"regexp"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// goTypeName matches what a Go type looks like in an error text.
var goTypeName = regexp.MustCompile(`map\[|\[\]|\*[a-z]+\.|\b(u?int(8|16|32|64)?|float(32|64)|struct|interface|rune|byte)\b|\b(service|api|config|quality|metadata|healing|pipeline|json|time)\.[A-Z]`)

// No answer to a body of the wrong shape names a Go type: callers are told
// what JSON to send ("must be a string"), not how shp stores it.
func TestNoGoTypeNamesInErrors(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	posts := map[string][]string{
		"/api/v1/apikeys":                   {`{"name":1}`, `{"name":"k","role":["admin"]}`, `{"name":"k","role":"viewer","expires_in":5}`, `{"name":{}}`},
		"/api/v1/pipelines/orders/run":      {`{"parameters":"x"}`, `{"parameters":{"a":1}}`, `{"parameters":[1]}`, `{"parameters":{"a":null}}`},
		"/api/v1/quality/rules":             {`{"pipeline":1}`, `{"pipeline":"orders","rules":{}}`, `{"pipeline":"orders","rules":[1]}`, `{"pipeline":"orders","rule":"x"}`, `{"pipeline":"orders","suite":[]}`, `{"pipeline":"orders","rules":[{"expectation":"expect_column_values_to_match_regex","kwargs":{"column":"id","regex":5}}]}`, `{"pipeline":"orders","rules":[{"expectation":"expect_column_values_to_be_in_set","kwargs":{"column":"id","value_set":"a"}}]}`},
		"/api/v1/healing/approve":           {`{"action_id":"x"}`, `{"action_id":1.5}`, `{"action_id":1,"decision":true}`, `{"action_id":1,"decision":"approve","reason":[]}`},
		"/api/v1/healing/actions/1/revert":  {`{"reason":3}`},
		"/api/v1/healing/actions/1/resolve": {`{"choice":3}`, `{"choice":"a","reason":{}}`},
		"/api/v1/incidents/inc-1/ack":       {`{"comment":3}`, `{"comment":["a"]}`},
		"/api/v1/silences":                  {`{"matchers":"pipeline=\"orders\""}`, `{"matchers":[1]}`, `{"matchers":["a=\"b\""],"duration":7200}`, `{"matchers":["a=\"b\""],"duration":"2h","comment":{}}`},
	}
	shapes := []string{`[]`, `"x"`, `1`, `true`, `null`}
	for path, bodies := range posts {
		for _, body := range append(bodies, shapes...) {
			code, _, answer := e.do("POST", path, e.keys[service.Admin], body)
			if code < 400 || code >= 500 {
				if code < 300 {
					continue // a shape this route takes
				}
				t.Errorf("POST %s %s: %d %s", path, body, code, answer)
			}
			if m := goTypeName.FindString(string(answer)); m != "" {
				t.Errorf("POST %s %s: the answer names a Go type (%q): %s", path, body, m, answer)
			}
			if strings.Contains(string(answer), "Go ") {
				t.Errorf("POST %s %s: %s", path, body, answer)
			}
		}
	}
}
