package spec

import (
	"bytes"
	"encoding/json"
)

// Decode reads a component's settings into dst, a pointer to a struct
// with json tags: fields' defaults first, then each setting that is not
// nil or "" (settings built by hand, in tests, may leave keys absent or
// empty). A key dst has no field for is refused. Its errors are
// encoding/json's, which name keys and types, never values.
func Decode(fields []Field, settings map[string]any, dst any) error {
	all := map[string]any{}
	for _, f := range fields {
		if f.Default != nil {
			all[f.Name] = f.Default
		}
	}
	for k, v := range settings {
		if v != nil && v != "" {
			all[k] = v
		}
	}
	raw, err := json.Marshal(all)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}
