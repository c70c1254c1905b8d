package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/shp-dev/shp/internal/config/spec"
)

// The keys the configuration itself reads, whatever the component: every
// warehouse's type; every source's type, schedule, schema and parameters;
// the format, compression and CSV options of every object source (the
// pipeline reads all objects alike); an extracting source's failover. The
// registered specs declare the rest. They are declared as fields for the
// reference and the unknown-key messages; the loader reads them itself.
var (
	warehouseFields = []spec.Field{
		{Name: "type", Type: spec.String, Default: WarehouseDuckDB,
			Doc: "The warehouse: one of the registered warehouses below."},
	}
	sourceFields = []spec.Field{
		{Name: "type", Type: spec.String, Required: true, Doc: "The source type: one of the registered types below."},
		{Name: "schedule", Type: spec.String, Example: "0 2 * * *",
			Doc: "A cron expression (5 fields, or a descriptor such as `@daily`) for the scheduler; pipelines inherit it. Empty: run on demand."},
		{Name: "schema", Type: spec.String, Example: "schemas/orders.json",
			Doc: "A BigQuery JSON schema file, relative to the config folder. Without it, the columns are discovered."},
		{Name: "parameters", Type: spec.Map,
			Doc: "The run parameters the source uses as `{{params.NAME}}`, by name: a type (`string`, `int`, `float`, `bool`, `date`, `timestamp`) or `{type, default, pattern}` (see Run parameters)."},
	}
	extractingFields = []spec.Field{
		{Name: "failover", Type: spec.String, Example: "orders_replica",
			Doc: "Extracting sources only: another source of the same type holding the same data, read when this one stays unavailable before it delivered anything."},
	}
	objectFields = []spec.Field{
		{Name: "format", Type: spec.String, Enum: []string{FormatCSV, FormatJSONL, FormatJSON, FormatParquet},
			Doc: "The objects' format; empty: from each object's extension."},
		{Name: "compression", Type: spec.String, Default: CompressionAuto, Enum: []string{CompressionAuto, CompressionNone, CompressionGzip},
			Doc: "`auto` reads `.gz` objects as gzip."},
		{Name: "csv", Type: spec.Object, Doc: "How CSV objects are read (format csv only).", Fields: []spec.Field{
			{Name: "delimiter", Type: spec.String, Check: checkOneChar,
				Doc: "One character; empty: detected from each file (`,`, `;`, tab or `|`)."},
			{Name: "header", Type: spec.Bool, Default: true, Doc: "The first line holds the column names."},
			{Name: "quote", Type: spec.String, Check: checkOneChar,
				Doc: "One character; empty: `\"`, or `'` when that reads the fields more consistently."},
			{Name: "null_values", Type: spec.StringList, Default: []string{""}, Doc: "The field texts read as NULL."},
		}},
	}
)

// checkOneChar is the check of CSV delimiters and quotes.
func checkOneChar(v any) string {
	if s, _ := v.(string); !oneChar(s) {
		return fmt.Sprintf("must be a single character, got %q", s)
	}
	return ""
}

// IsExtracting reports whether a source type extracts rows (a database or
// an API) rather than listing files: its registered spec says so.
func IsExtracting(typ string) bool {
	s, ok := spec.Lookup(spec.KindSource, typ)
	return ok && s.Extracting
}

// sourceFieldsOf returns every key a source of spec s takes: the common
// ones, those of its class (object or extracting), then its own.
func sourceFieldsOf(s spec.Spec) []spec.Field {
	out := slices.Clone(sourceFields)
	if s.Extracting {
		out = append(out, extractingFields...)
	} else {
		out = append(out, objectFields...)
	}
	return append(out, s.Fields...)
}

// fieldNames returns the names of fields.
func fieldNames(fields []spec.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// registered lists the registered names of kind for messages.
func registered(kind string) string {
	if names := spec.Names(kind); len(names) > 0 {
		return strings.Join(names, ", ")
	}
	return "none"
}

// checkFields reads the keys of o that fields declare: it reports wrong
// types, values outside an enum, failed checks and missing required keys,
// and returns the values of the keys given with the defaults of the
// others. Values are Go values: string (a scalar as written; an enum's
// listed spelling), int, float64, bool, []string, map[string]any (a Map
// as decoded, an Object checked the same way), a Duration as written (a
// string or a number of seconds), or what an Any decodes to.
//
// An empty string or null counts as unset: the key takes its default.
// With keepUnset, such a key without a default is returned as it is (nil
// or ""), as a source's Settings always held it.
func checkFields(o *object, fields []spec.Field, keepUnset bool) map[string]any {
	out := map[string]any{}
	if o.bad {
		return out
	}
	for _, fd := range fields {
		e, present := o.entries[fd.Name]
		if !present || isNull(e.value) {
			switch {
			case fd.Required && !present:
				o.errorf(o.at, "missing required key %q", o.name(fd.Name))
			case fd.Required:
				o.errorf(e.pos, "%s must not be empty", o.name(fd.Name))
			case fd.Default != nil:
				out[fd.Name] = cloneDefault(fd.Default)
			case keepUnset && present:
				out[fd.Name] = nil
			}
			continue
		}
		v, ok := fieldValue(o, fd, e, keepUnset)
		if !ok {
			continue
		}
		if s, isString := v.(string); isString && s == "" {
			switch {
			case fd.Required:
				o.errorf(o.valuePos(fd.Name), "%s must not be empty", o.name(fd.Name))
			case fd.Default != nil:
				out[fd.Name] = cloneDefault(fd.Default)
			case keepUnset:
				out[fd.Name] = ""
			}
			continue
		}
		if len(fd.Enum) > 0 {
			i := slices.IndexFunc(fd.Enum, func(x string) bool { return strings.EqualFold(x, v.(string)) })
			if i < 0 {
				o.errorf(o.valuePos(fd.Name), "%s %q is unknown (supported: %s)", o.name(fd.Name), v, strings.Join(fd.Enum, ", "))
				continue
			}
			v = fd.Enum[i]
		}
		if fd.Check != nil {
			if msg := fd.Check(v); msg != "" {
				o.errorf(o.valuePos(fd.Name), "%s %s", o.name(fd.Name), msg)
				continue
			}
		}
		out[fd.Name] = v
	}
	return out
}

// checkConstraints reports the OneOf and AnyOf groups of s that o breaks.
func checkConstraints(o *object, s spec.Spec) {
	if o.bad {
		return
	}
	for _, g := range s.OneOf {
		var given []string
		for _, k := range g {
			if o.has(k) {
				given = append(given, k)
			}
		}
		switch {
		case len(given) == 0:
			o.errorf(o.at, "missing required key %s", alternatives(g))
		case len(given) > 1 && len(g) == 2:
			o.errorf(o.keyPos(given[1]), "give %s or %s, not both", g[0], g[1])
		case len(given) > 1:
			o.errorf(o.keyPos(given[1]), "give only one of %s", strings.Join(g, ", "))
		}
	}
	for _, g := range s.AnyOf {
		if !slices.ContainsFunc(g, o.has) {
			o.errorf(o.at, "missing required key %s", alternatives(g))
		}
	}
}

// alternatives writes a group of keys for "missing required key"
// messages: `"table" (or "query")`.
func alternatives(g []string) string {
	quoted := make([]string, len(g)-1)
	for i, k := range g[1:] {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("%q (or %s)", g[0], strings.Join(quoted, ", "))
}

// fieldValue reads the non-null value of e as fd's type, reporting a
// value of another type.
func fieldValue(o *object, fd spec.Field, e *entry, keepUnset bool) (any, bool) {
	switch fd.Type {
	case spec.String, spec.SecretEnv, spec.SecretFile:
		s, ok := scalarString(e.value)
		if !ok {
			o.typeError(e, "a string")
		}
		return s, ok
	case spec.Int:
		var n int
		ok := o.integer(fd.Name, &n)
		return n, ok
	case spec.Number:
		var n float64
		ok := o.number(fd.Name, &n)
		return n, ok
	case spec.Bool:
		var b bool
		ok := o.boolean(fd.Name, &b)
		return b, ok
	case spec.Duration:
		switch v := e.value.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
			return decode(o, e)
		default:
			s, ok := scalarString(v)
			if !ok {
				o.typeError(e, "a duration such as 30s")
				return nil, false
			}
			if _, err := time.ParseDuration(s); err != nil && s != "" {
				o.errorf(o.valuePos(fd.Name), "%s %q is not a duration (use a number and a unit, such as 30s, 5m or 1h)", o.name(fd.Name), s)
				return nil, false
			}
			return s, true
		}
	case spec.StringList:
		var l []string
		_, ok := o.list(fd.Name, &l)
		return l, ok
	case spec.Map:
		if _, ok := e.value.(*ast.MappingNode); !ok {
			o.typeError(e, "a mapping")
			return nil, false
		}
		if fd.Elem != spec.String {
			return decode(o, e)
		}
		m := o.f.object(e.node, e.pos, o.ctx, o.path+fd.Name+".", "")
		out := map[string]any{}
		good := true
		for _, k := range m.order {
			ke := m.entries[k]
			s, ok := scalarString(ke.value)
			if !ok {
				m.typeError(ke, "a string")
				good = false
				continue
			}
			out[k] = s
		}
		return out, good
	case spec.Object:
		where := o.path + fd.Name
		if o.ctx != "" {
			where += " of " + o.ctx
		}
		n := o.f.specObject(e.node, e.pos, o.ctx, o.path+fd.Name+".", where, fieldNames(fd.Fields))
		if n.bad {
			return nil, false
		}
		before := len(*o.f.errs)
		m := checkFields(n, fd.Fields, keepUnset)
		return m, len(*o.f.errs) == before
	}
	return decode(o, e)
}

// decode returns e's value as goccy/go-yaml decodes it.
func decode(o *object, e *entry) (any, bool) {
	var v any
	if err := yaml.NodeToValue(e.node, &v); err != nil {
		o.errorf(o.f.pos(e.node), "%s: %v", o.name(e.key), err)
		return nil, false
	}
	return v, true
}

// cloneDefault returns a default value that the caller may change.
func cloneDefault(v any) any {
	if l, ok := v.([]string); ok {
		return slices.Clone(l)
	}
	return v
}

// settingsValue converts a checked value to what Source.Settings have
// held since before specs: lists as []any, nested mappings likewise.
func settingsValue(v any) any {
	switch x := v.(type) {
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = settingsValue(e)
		}
		return out
	}
	return v
}

// Reference returns the Markdown reference of the registered components
// of kind (spec.KindWarehouse or spec.KindSource): the keys every one of
// them takes, then each one's own, in name order. With names, only those
// components, each followed by the keys it takes besides its own. It is
// what `shp config spec` prints and the README carries.
func Reference(kind string, names ...string) (string, error) {
	var common []section
	switch kind {
	case spec.KindWarehouse:
		common = []section{{"Keys of every warehouse", warehouseFields}}
	case spec.KindSource:
		var objects, extracting []string
		for _, s := range spec.List(spec.KindSource) {
			if s.Extracting {
				extracting = append(extracting, "`"+s.Name+"`")
			} else {
				objects = append(objects, "`"+s.Name+"`")
			}
		}
		common = []section{
			{"Keys of every source", sourceFields},
			{"Keys of every object source (" + strings.Join(objects, ", ") + ")", objectFields},
			{"Keys of every extracting source (" + strings.Join(extracting, ", ") + ")", extractingFields},
		}
	default:
		return "", fmt.Errorf("no reference for %q: give %s or %s", kind, spec.KindWarehouse, spec.KindSource)
	}
	var b strings.Builder
	if len(names) == 0 {
		for _, c := range common {
			fmt.Fprintf(&b, "#### %s\n\n%s\n", c.title, spec.Table(c.fields))
		}
		for _, s := range spec.List(kind) {
			b.WriteString(s.Markdown(4) + "\n")
		}
		return strings.TrimRight(b.String(), "\n"), nil
	}
	for _, name := range names {
		s, ok := spec.Lookup(kind, strings.ToLower(name))
		if !ok {
			return "", fmt.Errorf("%s %q is unknown (supported: %s)", kind, name, registered(kind))
		}
		b.WriteString(s.Markdown(4))
		keys := fieldNames(warehouseFields)
		if kind == spec.KindSource {
			keys = fieldNames(sourceFieldsOf(spec.Spec{Extracting: s.Extracting}))
		}
		fmt.Fprintf(&b, "\nIt also takes the keys every %s of its class takes: `%s`.\n\n", kind, strings.Join(keys, "`, `"))
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// section is a table of the reference.
type section struct {
	title  string
	fields []spec.Field
}
