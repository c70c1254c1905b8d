package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/params"
)

// dateReplacer replaces {{ds}} (2026-01-02), {{ds_nodash}} (20260102),
// {{ts}} (RFC 3339) and {{ds_hour}} (2026-01-02T15), with or without a
// space inside the braces, by t in UTC. These values come from shp, never
// from a trigger, and hold no character that could end a string, a
// statement or a path segment, so they are placed as text.
func dateReplacer(t time.Time) *strings.Replacer {
	t = t.UTC()
	ds, nodash, ts, hour := t.Format(time.DateOnly), t.Format("20060102"), t.Format(time.RFC3339), t.Format("2006-01-02T15")
	return strings.NewReplacer(
		"{{ds}}", ds, "{{ ds }}", ds,
		"{{ds_nodash}}", nodash, "{{ ds_nodash }}", nodash,
		"{{ts}}", ts, "{{ ts }}", ts,
		"{{ds_hour}}", hour, "{{ ds_hour }}", hour,
	)
}

// sampleDate stands for the logical date when a default is checked.
var sampleDate = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// use is how a setting takes a parameter's value.
type use int

const (
	// useText places the value as text; it must be letters, digits and
	// . _ : + - (a setting such as a DSN or a column name).
	useText use = iota
	// useValue places any value: the setting is sent as data (an API's
	// query parameters or headers).
	useValue
	// useJSON places any value, and a string that is one reference alone
	// becomes the value as JSON has it (a number, true or false): the
	// setting is sent as JSON (an API's body, GraphQL variables).
	useJSON
	// useBind leaves the reference for the connector to bind (a SQL
	// query).
	useBind
	// useName places a value of letters, digits and _ (a SQL table).
	useName
	// usePath places a single path segment (a file or object path).
	usePath
	// useURL places a path segment or a query-string value (params.URL).
	useURL
	// useNone refuses a reference (a GraphQL query: use variables).
	useNone
)

// settingUse says how the setting key of s takes parameters.
func (s *Source) settingUse(key string) use {
	switch s.Type {
	case SourcePostgres, SourceMySQL, SourceCloudSQL:
		switch key {
		case "query":
			return useBind
		case "table":
			return useName
		}
	case SourceAPI, SourceGraphQL:
		switch key {
		case "url":
			return useURL
		case "params", "headers":
			return useValue
		case "body", "variables":
			return useJSON
		case "query":
			return useNone
		}
	}
	return useText
}

// sqlDialect is the dialect of a SQL source's query.
func (s *Source) sqlDialect() (params.Dialect, bool) {
	switch s.Type {
	case SourcePostgres:
		return params.Postgres, true
	case SourceMySQL:
		return params.MySQL, true
	case SourceCloudSQL:
		if e, _ := s.Settings["engine"].(string); e == "mysql" {
			return params.MySQL, true
		}
		return params.Postgres, true
	}
	return 0, false
}

// textRE is what a parameter placed as text in a setting may hold.
var textRE = regexp.MustCompile(`^[A-Za-z0-9._:+-]{0,128}$`)

// nameRE is what a parameter in a SQL table name may hold.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

// sourceParameters reads a source's parameters declarations and checks
// where its settings and path refer to parameters: each must be declared
// when the source declares any, sit where a value may in a SQL query,
// stand in a URL's path or query string only, and not appear in a
// GraphQL query (which takes them as variables).
func (l *loader) sourceParameters(o *object, s *Source) {
	if o.has("parameters") {
		s.Parameters = map[string]params.Decl{}
		ps := o.f.object(o.node("parameters"), o.keyPos("parameters"), o.ctx, "parameters.", "parameters of "+o.ctx)
		for _, name := range ps.order {
			if d, ok := declaration(ps, name); ok {
				s.Parameters[name] = d
			}
		}
	}
	check := func(at pos, key, text string, u use) {
		for _, ref := range params.Refs(text) {
			if _, ok := s.Parameters[ref]; s.Parameters != nil && !ok {
				o.errorf(at, "%s: {{params.%s}} is not declared in parameters (declared: %s)", key, ref, declaredList(s))
				return
			}
		}
		var err error
		switch u {
		case useNone:
			if refs := params.Refs(text); len(refs) > 0 {
				o.errorf(at, "%s: {{params.%s}} cannot stand in a GraphQL query, where a value could change the query: "+
					"write $%s in the query and pass it in variables, as {%s: \"{{params.%s}}\"}", key, refs[0], refs[0], refs[0], refs[0])
				return
			}
		case useBind:
			d, _ := s.sqlDialect()
			_, err = params.BindSQL(text, d, func(string) (string, error) { return "?", nil })
		case useURL:
			_, err = params.URL(text, func(string) (string, error) { return "x", nil })
		}
		if err != nil {
			o.errorf(at, "%s: %v", key, err)
		}
	}
	if !IsExtracting(s.Type) {
		check(o.valuePos("path"), "path", s.Path, usePath)
		return
	}
	for _, key := range sortedKeys(s.Settings) {
		for _, text := range stringsOf(s.Settings[key]) {
			check(o.valuePos(key), key, text, s.settingUse(key))
		}
	}
}

// declaration reads the declaration of the parameter name: its type
// (`name: int`), or a mapping with type, default and pattern.
func declaration(ps *object, name string) (params.Decl, bool) {
	e := ps.entries[name]
	if !params.ValidName(name) {
		ps.errorf(e.pos, "parameter name %q is not valid: use %s", name, params.NameRule)
		return params.Decl{}, false
	}
	var d params.Decl
	if typ, ok := scalarString(e.value); ok {
		t, err := params.ParseType(typ)
		if err != nil {
			ps.errorf(ps.valuePos(name), "parameters.%s: %v", name, err)
			return d, false
		}
		d.Type = t
		return d, true
	}
	do := ps.f.object(e.node, e.pos, ps.ctx, "parameters."+name+".", "parameters."+name+" of "+ps.ctx, "type", "default", "pattern")
	var typ string
	if !do.required("type", &typ) {
		return d, false
	}
	t, err := params.ParseType(typ)
	if err != nil {
		do.errorf(do.valuePos("type"), "parameters.%s.type: %v", name, err)
		return d, false
	}
	d.Type = t
	ok := true
	var pattern string
	if do.str("pattern", &pattern) {
		re, err := regexp.Compile(pattern)
		switch {
		case t != params.String:
			do.errorf(do.keyPos("pattern"), "parameters.%s.pattern is for type string, not %s", name, t)
			ok = false
		case err != nil:
			do.errorf(do.valuePos("pattern"), "parameters.%s.pattern %q is not a valid RE2 expression: %v", name, pattern, err)
			ok = false
		default:
			d.Pattern = re
		}
	}
	if de, present := do.get("default"); present {
		v, isScalar := scalarString(de.value)
		switch {
		case !isScalar:
			do.typeError(de, "a string")
			return d, false
		case len(params.Refs(v)) > 0:
			do.errorf(do.valuePos("default"), "parameters.%s.default may use the logical date ({{ds}}, {{ts}} ...), not other parameters", name)
			return d, false
		}
		d.Default, d.HasDefault = v, true
		if _, err := d.Parse(dateReplacer(sampleDate).Replace(v)); err != nil && ok {
			do.errorf(do.valuePos("default"), "parameters.%s.default %q: %v", name, v, err)
			ok = false
		}
	}
	return d, ok
}

// declaredList names a source's declared parameters, for messages.
func declaredList(s *Source) string {
	if len(s.Parameters) == 0 {
		return "none"
	}
	return strings.Join(sortedKeys(s.Parameters), ", ")
}

// stringsOf returns the strings in a setting's value, at any depth.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, k := range sortedKeys(x) {
			out = append(out, stringsOf(x[k])...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}

// Refs returns the parameters the source's path and settings refer to as
// {{params.NAME}}, sorted, each once.
func (s *Source) Refs() []string {
	var out []string
	for _, text := range append([]string{s.Path}, stringsOf(s.Settings)...) {
		for _, r := range params.Refs(text) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Templated returns the source as a run with the logical date and the
// parameters given (by name, as text) reads it. {{ds}}, {{ds_nodash}},
// {{ts}} and {{ds_hour}} in its path and settings are replaced by the
// logical date, in UTC. Each {{params.NAME}} takes the parameter's value,
// checked against the source's declaration (its default when not given),
// or, on a source that declares no parameters, a string of letters,
// digits and . _ : -. Where a value lands, it cannot change the structure
// of what it lands in:
//
//   - a SQL source's query keeps its references: the connector binds them
//     to Bound, the values, as query parameters;
//   - in a file or object path, and in the path of an API's URL, a value
//     must be one path segment (params.CheckSegment), escaped in a URL;
//     in the URL's query string it is query-escaped;
//   - an API's params, headers, body and variables take any value (they
//     are sent as data), a SQL table name letters, digits and _ only, and
//     other settings letters, digits and . _ : + - only.
//
// With strict (a trigger), a parameter the source does not declare, when
// it declares any, is an error; without (a run, which may be downstream of
// the triggered pipeline), it is left out. Problems with a parameter are
// *params.Error values naming it.
func (s *Source) Templated(logical time.Time, given map[string]string, strict bool) (*Source, error) {
	if s == nil {
		return nil, nil
	}
	dates := dateReplacer(logical)
	vals, err := s.values(dates, given, strict)
	if err != nil {
		return nil, err
	}
	value := func(name string) (params.Value, error) {
		v, ok := vals[name]
		if !ok {
			hint := "give it when the run is triggered (--param " + name + "=VALUE, or parameters in the API's trigger)"
			if d, declared := s.Parameters[name]; declared && !d.HasDefault {
				hint += ", or declare a default"
			}
			return params.Value{}, params.Errorf(name, "has no value: %s", hint)
		}
		return v, nil
	}
	out := *s
	out.Bound = vals
	out.Path, err = place(dates.Replace(s.Path), usePath, value)
	if err != nil {
		return nil, s.in("path", err)
	}
	if s.Settings != nil {
		out.Settings = map[string]any{}
		for _, key := range sortedKeys(s.Settings) {
			v, err := templateSetting(s.Settings[key], dates, s.settingUse(key), value)
			if err != nil {
				return nil, s.in(key, err)
			}
			out.Settings[key] = v
		}
	}
	return &out, nil
}

// in says where a parameter's problem is.
func (s *Source) in(key string, err error) error {
	var pe *params.Error
	if errors.As(err, &pe) {
		return params.Errorf(pe.Name, "%s (in %s of source %s)", pe.Msg, key, s.Name)
	}
	return err
}

// values checks the parameters given against the source's declarations
// and adds the declared defaults.
func (s *Source) values(dates *strings.Replacer, given map[string]string, strict bool) (map[string]params.Value, error) {
	vals := map[string]params.Value{}
	refs := s.Refs()
	for _, name := range sortedKeys(given) {
		raw := given[name]
		if !params.ValidName(name) {
			if strict {
				return nil, params.Errorf(name, "is not a valid parameter name: use %s", params.NameRule)
			}
			continue
		}
		var v params.Value
		var err error
		if s.Parameters != nil {
			d, declared := s.Parameters[name]
			if !declared {
				if strict {
					return nil, params.Errorf(name, "is not declared by source %s (declared: %s)", s.Name, declaredList(s))
				}
				continue
			}
			v, err = d.Parse(raw)
		} else {
			if !strict && !slices.Contains(refs, name) {
				continue
			}
			v, err = params.Undeclared(raw)
		}
		if err != nil {
			return nil, params.Errorf(name, "%v", err)
		}
		vals[name] = v
	}
	for _, name := range sortedKeys(s.Parameters) {
		d := s.Parameters[name]
		if _, ok := vals[name]; ok || !d.HasDefault {
			continue
		}
		v, err := d.Parse(dates.Replace(d.Default))
		if err != nil {
			return nil, params.Errorf(name, "default %q: %v", d.Default, err)
		}
		vals[name] = v
	}
	return vals, nil
}

// templateSetting templates a setting's value at any depth.
func templateSetting(v any, dates *strings.Replacer, u use, value func(string) (params.Value, error)) (any, error) {
	switch x := v.(type) {
	case string:
		if u == useJSON {
			if name, ok := params.Only(x); ok {
				pv, err := value(name)
				if err != nil {
					return nil, err
				}
				return pv.JSON(), nil
			}
		}
		return place(dates.Replace(x), u, value)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			t, err := templateSetting(e, dates, u, value)
			if err != nil {
				return nil, err
			}
			m[k] = t
		}
		return m, nil
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			t, err := templateSetting(e, dates, u, value)
			if err != nil {
				return nil, err
			}
			l[i] = t
		}
		return l, nil
	}
	return v, nil
}

// place puts the parameters' values in text as u says.
func place(text string, u use, value func(string) (params.Value, error)) (string, error) {
	switch u {
	case useBind:
		// The connector binds them; each must have a value.
		for _, name := range params.Refs(text) {
			if _, err := value(name); err != nil {
				return "", err
			}
		}
		return text, nil
	case useNone:
		if refs := params.Refs(text); len(refs) > 0 {
			return "", params.Errorf(refs[0], "cannot stand in a GraphQL query: pass it in variables")
		}
		return text, nil
	case useURL:
		return params.URL(text, func(name string) (string, error) {
			v, err := value(name)
			return v.Text, err
		})
	}
	return params.Replace(text, func(name string) (string, error) {
		v, err := value(name)
		if err != nil {
			return "", err
		}
		switch u {
		case usePath:
			err = params.CheckSegment(v.Text)
		case useName:
			if !nameRE.MatchString(v.Text) {
				err = fmt.Errorf("may hold letters, digits and _ only in a table name, got %q", v.Text)
			}
		case useText:
			if !textRE.MatchString(v.Text) {
				err = fmt.Errorf("may hold letters, digits and . _ : + - only in this setting, got %q", v.Text)
			}
		}
		if err != nil {
			return "", params.Errorf(name, "%v", err)
		}
		return v.Text, nil
	})
}
