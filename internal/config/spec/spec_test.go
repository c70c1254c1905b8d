package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	a := Spec{Kind: "test-kind", Name: "b", Summary: "B.", Fields: []Field{{Name: "x", Type: String}}}
	z := Spec{Kind: "test-kind", Name: "a", Summary: "A."}
	Register(a)
	Register(z)
	t.Cleanup(func() { Unregister("test-kind", "a"); Unregister("test-kind", "b") })

	if got, ok := Lookup("test-kind", "b"); !ok || got.Summary != "B." {
		t.Errorf("Lookup(b) = %+v, %v", got, ok)
	}
	if _, ok := Lookup("test-kind", "c"); ok {
		t.Error("Lookup(c) found an unregistered spec")
	}
	if _, ok := Lookup("other-kind", "a"); ok {
		t.Error("Lookup found a spec of another kind")
	}
	if got := Names("test-kind"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names = %v, want sorted [a b]", got)
	}
	if got := List("test-kind"); len(got) != 2 || got[0].Name != "a" {
		t.Errorf("List = %+v", got)
	}

	Unregister("test-kind", "a")
	if got := Names("test-kind"); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("Names after Unregister = %v", got)
	}
}

func TestRegisterFunc(t *testing.T) {
	// A component whose list grows after registration, as the healing
	// strategies' does.
	names := []string{"late"}
	RegisterFunc("test-func", func() []Spec {
		var out []Spec
		for _, n := range names {
			out = append(out, Spec{Kind: "test-func", Name: n})
		}
		return out
	})
	names = append(names, "later")
	Register(Spec{Kind: "test-func", Name: "static"})
	if _, ok := Lookup("test-func", "later"); !ok {
		t.Error("Lookup does not see a name the function lists")
	}
	if got := Names("test-func"); !reflect.DeepEqual(got, []string{"late", "later", "static"}) {
		t.Errorf("Names = %v", got)
	}
}

func TestRegisterRefusesInvalidSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no name", Spec{Kind: "k"}, "needs a kind and a name"},
		{"no kind", Spec{Name: "n"}, "needs a kind and a name"},
		{"unnamed field", Spec{Kind: "k", Name: "n", Fields: []Field{{Type: String}}}, "has no name"},
		{"twice", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: String}, {Name: "a", Type: Int}}}, "declared twice"},
		{"bad type", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: "float"}}}, "unknown type"},
		{"empty object", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: Object}}}, "declares no fields"},
		{"default of another type", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: Int, Default: "1"}}}, "is not a int"},
		{"default outside the enum", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: String, Enum: []string{"x"}, Default: "y"}}}, "not in its enum"},
		{"enum of ints", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: Int, Enum: []string{"1"}}}}, "only a string has an Enum"},
		{"required with default", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: String, Required: true, Default: "x"}}}, "required and has a default"},
		{"nested", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: Object, Fields: []Field{{Name: "b", Type: "?"}}}}}, "a: field \"b\" has unknown type"},
		{"constraint on nothing", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: String}}, OneOf: [][]string{{"a", "b"}}}, `names "b"`},
		{"constraint of one", Spec{Kind: "k", Name: "n", Fields: []Field{{Name: "a", Type: String}}, AnyOf: [][]string{{"a"}}}, "two keys or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tt.want) {
					t.Errorf("panic %v, want one containing %q", r, tt.want)
				}
			}()
			Register(tt.spec)
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		Register(Spec{Kind: "test-dup", Name: "d"})
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "twice") {
				t.Errorf("panic %v", r)
			}
		}()
		Register(Spec{Kind: "test-dup", Name: "d"})
	})
}

func TestMarkdown(t *testing.T) {
	s := Spec{Kind: "k", Name: "thing", Summary: "A thing.", Fields: []Field{
		{Name: "url", Type: String, Required: true, Doc: "Where | it is.", Example: "https://x"},
		{Name: "mode", Type: String, Default: "a", Enum: []string{"a", "b", "c"}},
		{Name: "nulls", Type: StringList, Default: []string{"", "NULL"}},
		{Name: "token_env", Type: SecretEnv},
		{Name: "headers", Type: Map, Elem: String},
		{Name: "retry", Type: Object, Doc: "Retries.", Fields: []Field{{Name: "attempts", Type: Int, Default: 5}}},
	}, OneOf: [][]string{{"url", "mode"}}}
	want := "#### `thing`\n\nA thing.\n\n" +
		"| Key | Type | Default | Description |\n|---|---|---|---|\n" +
		"| `url` | string | required | Where \\| it is. Example: `https://x`. |\n" +
		"| `mode` | string | `a` | One of `a`, `b` or `c`. |\n" +
		"| `nulls` | list of strings | `[\"\", \"NULL\"]` |  |\n" +
		"| `token_env` | env var name |  |  |\n" +
		"| `headers` | mapping of strings |  |  |\n" +
		"| `retry` | object |  | Retries. |\n" +
		"| `retry.attempts` | integer | `5` |  |\n" +
		"\nGive exactly one of `url` or `mode`.\n"
	if got := s.Markdown(4); got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}
	if got := s.Keys(); !reflect.DeepEqual(got, []string{"headers", "mode", "nulls", "retry", "token_env", "url"}) {
		t.Errorf("Keys = %v", got)
	}
	if f, ok := s.Field("mode"); !ok || f.Default != "a" {
		t.Errorf("Field(mode) = %+v, %v", f, ok)
	}
}

func TestCompareStruct(t *testing.T) {
	type tls struct {
		Mode string `json:"mode"`
	}
	type config struct {
		URL     string            `json:"url"`
		Port    int               `json:"port"`
		Rate    float64           `json:"rate_limit"`
		Flatten *bool             `json:"flatten"`
		Headers map[string]string `json:"headers"`
		TLS     tls               `json:"tls"`
		Engine  string            `json:"engine"`
		Extra   string            `json:"extra"`
		Scopes  []string          `json:"scopes"`
		Any     any               `json:"lookback"`
	}
	fields := []Field{
		{Name: "url", Type: String},
		{Name: "port", Type: String},
		{Name: "rate_limit", Type: Number},
		{Name: "flatten", Type: Bool},
		{Name: "headers", Type: Map, Elem: String},
		{Name: "tls", Type: Object, Fields: []Field{{Name: "mode", Type: String}, {Name: "ca", Type: String}}},
		{Name: "scopes", Type: StringList},
		{Name: "lookback", Type: Any},
		{Name: "gone", Type: Int},
	}
	got := CompareStruct(&config{}, fields, "engine")
	want := []string{
		`port is declared string, but config's is a int`,
		`tls.ca is declared, but tls has no key "ca"`,
		`gone is declared, but config has no key "gone"`,
		`extra is a key of config the spec does not declare`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CompareStruct =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
