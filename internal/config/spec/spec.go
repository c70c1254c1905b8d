// Package spec declares what the pluggable components of shp accept in
// their configuration, and keeps the registry of those declarations.
//
// A component (a warehouse, a source type; later a notifier) declares a
// Spec: its keys, their types, defaults and documentation. It registers
// it from an init function, next to the factory it registers with its own
// seam (warehouse.Register, source.Register, source.RegisterExtractor),
// the way a Benthos component registers a ConfigSpec with its
// constructor:
//
//	func init() {
//		spec.Register(spec.Spec{
//			Kind:    spec.KindWarehouse,
//			Name:    "duckdb",
//			Summary: "The embedded DuckDB database.",
//			Fields: []spec.Field{
//				{Name: "path", Type: spec.String, Default: ".shp/warehouse.duckdb", Doc: "The database file."},
//				{Name: "threads", Type: spec.Int, Default: 0, Doc: "Threads the database may use; 0 for all cores."},
//			},
//		})
//	}
//
// internal/config checks config.yaml's warehouse and every source of
// sources.yaml against the registered specs (unknown keys, types, enums,
// required keys, defaults), and `shp config spec` prints them as the
// Markdown reference the README carries. Adding a component is writing
// its package and importing it where the binary imports its components:
// no list of keys or types elsewhere changes.
//
// The package imports nothing of shp and no driver, so that the
// configuration and the components can both import it; a component that
// links cgo (DuckDB) declares its spec in a cgo-free package of its own.
package spec

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Kinds of component.
const (
	// KindWarehouse is a warehouse: config.yaml's warehouse section.
	KindWarehouse = "warehouse"
	// KindSource is a source type: an entry of sources.yaml.
	KindSource = "source"
	// KindStrategy is a self-healing correction strategy that
	// self_healing.yaml may name (auto_approve, strategies).
	KindStrategy = "strategy"
	// KindCategory is an issue category of the self-healing taxonomy that
	// self_healing.yaml may name (categories).
	KindCategory = "category"
)

// Type is the type of a key's value.
type Type string

// Value types.
const (
	// String is a scalar, read as written: `bucket: 2024` is "2024".
	String Type = "string"
	// Int is a whole number.
	Int Type = "int"
	// Number is a whole or decimal number.
	Number Type = "number"
	// Bool is true or false.
	Bool Type = "bool"
	// Duration is a duration such as "30s", "5m" or "1h30m", or a number
	// of seconds.
	Duration Type = "duration"
	// StringList is a list of strings; a single string is a list of one.
	StringList Type = "list"
	// Map is a mapping of keys the spec does not declare (HTTP headers,
	// query parameters); Field.Elem types its values.
	Map Type = "map"
	// Object is a mapping of the keys Field.Fields declares.
	Object Type = "object"
	// SecretEnv is the name of an environment variable that holds a
	// secret, so that the secret itself never is in the YAML.
	SecretEnv Type = "secret-env"
	// SecretFile is the path of a file that holds a secret.
	SecretFile Type = "secret-file"
	// Any is any value: a scalar, a list or a mapping.
	Any Type = "any"
)

// valid reports whether t is one of the value types.
func (t Type) valid() bool {
	switch t {
	case String, Int, Number, Bool, Duration, StringList, Map, Object, SecretEnv, SecretFile, Any:
		return true
	}
	return false
}

// Field is one key of a component's configuration.
type Field struct {
	// Name is the key, e.g. "memory_limit".
	Name string
	// Type is the type of its value.
	Type Type
	// Required says the key must be given, and not empty.
	Required bool
	// Default is the value an absent (or null, or empty) key takes: a
	// string, int, float64, bool or []string, fitting Type; nil for none.
	// The configuration applies it, so what a component receives always
	// holds it.
	Default any
	// Doc describes the key, in sentences, for the reference.
	Doc string
	// Enum lists the values a String key may take; they match whatever
	// their case, and the value becomes the listed spelling.
	Enum []string
	// Example is a value to show in the reference.
	Example string
	// Elem is the type of a Map's values (String or Any; Any when
	// empty).
	Elem Type
	// Fields are the keys of an Object.
	Fields []Field
	// Check, when set, checks a value of the right type (a string, int,
	// float64, bool, []string, map[string]any or, for a Duration, the
	// value as written) and returns what is wrong with it, as the words
	// that follow the key's name in the message (`"ab" must be a single
	// character`), or "" when nothing is.
	Check func(v any) string
}

// Spec declares the configuration of one component.
type Spec struct {
	// Kind is KindWarehouse, KindSource or another Kind constant.
	Kind string
	// Name is the component's type as the configuration names it, e.g.
	// "duckdb" or "postgres"; lower case.
	Name string
	// Summary says what the component is, in a sentence.
	Summary string
	// Fields are its keys, in the order the reference lists them. The
	// keys every component of the kind takes (a source's type, schedule
	// and schema) are the configuration's, not declared here.
	Fields []Field
	// OneOf are groups of keys of which exactly one must be given (a
	// table or a query).
	OneOf [][]string
	// AnyOf are groups of keys of which at least one must be given (a
	// host or a DSN).
	AnyOf [][]string
	// Extracting marks a source that extracts rows (a database, an API)
	// rather than listing objects (files); its keys reach its connector
	// as config.Source.Settings.
	Extracting bool
	// Dataset, when set, names a warehouse's table for lineage, after
	// OpenLineage's naming conventions (postgres://host:port and
	// database.schema.table), from the warehouse's settings
	// (config.Warehouse.Settings); ok is false when the settings do not
	// say. It must not return a secret. Without it a warehouse's tables
	// are named as DuckDB's file.
	Dataset func(settings map[string]any, table string) (namespace, name string, ok bool)
}

// Field returns the field called name.
func (s Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Keys returns the names of the spec's fields, sorted.
func (s Spec) Keys() []string { return Keys(s.Fields) }

// Keys returns the names of fields, sorted.
func Keys(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	slices.Sort(out)
	return out
}

// registry holds the registered specs, by kind and name, and the
// functions that list the specs of components whose own registry only
// knows them all once every init function ran.
var registry = struct {
	sync.RWMutex
	specs map[string]map[string]Spec
	funcs map[string][]func() []Spec
}{specs: map[string]map[string]Spec{}, funcs: map[string][]func() []Spec{}}

// Register adds s. It panics when s is invalid (no kind or name, a field
// without a name or with an unknown type, a default that does not fit its
// type or enum, a constraint naming no field) or already registered:
// those are programming errors.
func Register(s Spec) {
	if err := s.validate(); err != nil {
		panic("spec: Register: " + err.Error())
	}
	registry.Lock()
	defer registry.Unlock()
	byName := registry.specs[s.Kind]
	if byName == nil {
		byName = map[string]Spec{}
		registry.specs[s.Kind] = byName
	}
	if _, dup := byName[s.Name]; dup {
		panic(fmt.Sprintf("spec: Register called twice for %s %q", s.Kind, s.Name))
	}
	byName[s.Name] = s
}

// RegisterFunc adds a function that lists specs of kind whenever they are
// looked up, for components kept in a registry of their own that init
// functions fill in an order Register cannot rely on (the self-healing
// strategies).
func RegisterFunc(kind string, list func() []Spec) {
	if kind == "" || list == nil {
		panic("spec: RegisterFunc needs a kind and a function")
	}
	registry.Lock()
	defer registry.Unlock()
	registry.funcs[kind] = append(registry.funcs[kind], list)
}

// Unregister removes the spec kind/name that Register added, if any. It
// is for tests that register a component of their own.
func Unregister(kind, name string) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.specs[kind], name)
}

// Lookup returns the spec of the component of kind called name.
func Lookup(kind, name string) (Spec, bool) {
	registry.RLock()
	s, ok := registry.specs[kind][name]
	funcs := registry.funcs[kind]
	registry.RUnlock()
	if ok {
		return s, true
	}
	for _, list := range funcs {
		for _, s := range list() {
			if s.Name == name {
				return s, true
			}
		}
	}
	return Spec{}, false
}

// List returns the specs of kind, sorted by name.
func List(kind string) []Spec {
	registry.RLock()
	byName := map[string]Spec{}
	for n, s := range registry.specs[kind] {
		byName[n] = s
	}
	funcs := registry.funcs[kind]
	registry.RUnlock()
	for _, list := range funcs {
		for _, s := range list() {
			if _, dup := byName[s.Name]; !dup {
				byName[s.Name] = s
			}
		}
	}
	out := make([]Spec, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names of the components of kind, sorted.
func Names(kind string) []string {
	specs := List(kind)
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// validate reports what makes s unusable.
func (s Spec) validate() error {
	if s.Kind == "" || s.Name == "" {
		return fmt.Errorf("a spec needs a kind and a name, got %q %q", s.Kind, s.Name)
	}
	if err := validateFields(s.Fields); err != nil {
		return fmt.Errorf("%s %q: %w", s.Kind, s.Name, err)
	}
	for _, group := range append(slices.Clone(s.OneOf), s.AnyOf...) {
		if len(group) < 2 {
			return fmt.Errorf("%s %q: a OneOf or AnyOf group needs two keys or more, got %v", s.Kind, s.Name, group)
		}
		for _, k := range group {
			if _, ok := s.Field(k); !ok {
				return fmt.Errorf("%s %q: constraint names %q, which is not a field", s.Kind, s.Name, k)
			}
		}
	}
	return nil
}

// validateFields reports what makes fields unusable.
func validateFields(fields []Field) error {
	seen := map[string]bool{}
	for _, f := range fields {
		switch {
		case f.Name == "":
			return fmt.Errorf("a field has no name")
		case seen[f.Name]:
			return fmt.Errorf("field %q is declared twice", f.Name)
		case !f.Type.valid():
			return fmt.Errorf("field %q has unknown type %q", f.Name, f.Type)
		case f.Type == Object && len(f.Fields) == 0:
			return fmt.Errorf("object field %q declares no fields", f.Name)
		case f.Type != Object && len(f.Fields) > 0:
			return fmt.Errorf("field %q declares fields but is not an object", f.Name)
		case f.Elem != "" && f.Elem != String && f.Elem != Any:
			return fmt.Errorf("field %q: Elem must be string or any, got %q", f.Name, f.Elem)
		case f.Elem != "" && f.Type != Map:
			return fmt.Errorf("field %q: only a map has an Elem", f.Name)
		case len(f.Enum) > 0 && f.Type != String:
			return fmt.Errorf("field %q: only a string has an Enum", f.Name)
		case f.Required && f.Default != nil:
			return fmt.Errorf("field %q is required and has a default", f.Name)
		}
		seen[f.Name] = true
		if f.Default != nil && !fits(f.Type, f.Default) {
			return fmt.Errorf("field %q: default %#v is not a %s", f.Name, f.Default, f.Type)
		}
		if d, ok := f.Default.(string); ok && len(f.Enum) > 0 && !slices.Contains(f.Enum, d) {
			return fmt.Errorf("field %q: default %q is not in its enum %v", f.Name, d, f.Enum)
		}
		if f.Type == Object {
			if err := validateFields(f.Fields); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
	}
	return nil
}

// fits reports whether a default value v has type t.
func fits(t Type, v any) bool {
	switch v.(type) {
	case string:
		return t == String || t == Duration || t == SecretEnv || t == SecretFile || t == Any
	case int:
		return t == Int || t == Number || t == Duration || t == Any
	case float64:
		return t == Number || t == Any
	case bool:
		return t == Bool || t == Any
	case []string:
		return t == StringList || t == Any
	}
	return false
}
