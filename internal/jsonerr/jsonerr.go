// Package jsonerr words encoding/json's errors for the people who wrote
// the JSON: what the document must hold, in JSON's terms, never as the Go
// type shp decodes it into.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Kind names what JSON must hold for a Go type: "a string", "an integer",
// "a list", "an object".
func Kind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return "a timestamp string (RFC 3339)"
	case reflect.TypeFor[time.Duration]():
		return "a number of nanoseconds"
	case reflect.TypeFor[json.Number]():
		return "a number"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// TypeError is a JSON value of the wrong kind, worded without Go types.
type TypeError struct {
	// Field is the value's dotted path ("" for the whole document).
	Field string
	// Want is what the field must hold ("a string"), Got the JSON kind
	// it held ("number").
	Want, Got string
	err       error
}

// Error says which field must hold what.
func (e *TypeError) Error() string {
	field := e.Field
	if field == "" {
		field = "the document"
	}
	return fmt.Sprintf("%s must be %s, not %s", field, e.Want, e.Got)
}

// Unwrap returns the *json.UnmarshalTypeError.
func (e *TypeError) Unwrap() error { return e.err }

// Reword returns err with a *json.UnmarshalTypeError in it replaced by a
// *TypeError; other errors are returned as they are.
func Reword(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	return &TypeError{Field: te.Field, Want: Kind(te.Type), Got: te.Value, err: err}
}
