package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// CompareStruct compares fields with v, a struct (or a pointer to one)
// whose json tags name the keys a component decodes its configuration
// into, and returns where they differ: a field the struct has no key for,
// a key the fields do not declare (unless listed in skip, as "key" or
// "parent.key"), a type that does not fit (an Int field for a string, an
// Object for a scalar). A component's test keeps its spec in step with
// its struct with it.
func CompareStruct(v any, fields []Field, skip ...string) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	compareStruct(t, fields, "", skip, &out)
	return out
}

// compareStruct is CompareStruct for the struct type t, its keys
// prefixed.
func compareStruct(t reflect.Type, fields []Field, prefix string, skip []string, out *[]string) {
	keys := map[string]reflect.Type{}
	var order []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		keys[name] = sf.Type
		order = append(order, name)
	}
	declared := map[string]bool{}
	for _, f := range fields {
		declared[f.Name] = true
		ft, ok := keys[f.Name]
		if !ok {
			*out = append(*out, fmt.Sprintf("%s%s is declared, but %s has no key %q", prefix, f.Name, t.Name(), f.Name))
			continue
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !fitsKind(f, ft) {
			*out = append(*out, fmt.Sprintf("%s%s is declared %s, but %s's is a %s", prefix, f.Name, f.Type, t.Name(), ft))
			continue
		}
		if f.Type == Object {
			compareStruct(ft, f.Fields, prefix+f.Name+".", skip, out)
		}
	}
	for _, k := range order {
		if !declared[k] && !slices.Contains(skip, prefix+k) {
			*out = append(*out, fmt.Sprintf("%s%s is a key of %s the spec does not declare", prefix, k, t.Name()))
		}
	}
}

// fitsKind reports whether a value of Go type t holds what f declares.
func fitsKind(f Field, t reflect.Type) bool {
	switch f.Type {
	case String, SecretEnv, SecretFile:
		return t.Kind() == reflect.String
	case Int:
		return t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64
	case Number:
		return t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64
	case Bool:
		return t.Kind() == reflect.Bool
	case Duration:
		return t.Kind() == reflect.Int64
	case StringList:
		return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
	case Map:
		return t.Kind() == reflect.Map && (f.Elem != String || t.Elem().Kind() == reflect.String)
	case Object:
		return t.Kind() == reflect.Struct
	}
	return t.Kind() == reflect.Interface
}
