package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// pos is a 1-based line and column in a file as the user sees it (before
// environment expansion). The zero pos means "no position".
type pos struct{ line, col int }

// yamlFile is one parsed configuration file together with the helpers that
// extract typed values from it and record positioned errors.
type yamlFile struct {
	name    string // relative to the project directory
	body    ast.Node
	cols    colMap
	anchors map[string]ast.Node
	errs    *Errors
	// env are the values environment references took from the
	// environment (not their defaults), for the sources' Secrets.
	env []envValue
}

// envValue is what an environment reference ${NAME} was replaced with.
type envValue struct{ name, value string }

// parseYAML expands environment references in data and parses the result.
// It returns nil after recording errors if the file cannot be parsed; the
// body of the returned file is nil when the document is empty.
func parseYAML(name string, data []byte, lookup LookupEnvFunc, errs *Errors) *yamlFile {
	f := &yamlFile{name: name, errs: errs, anchors: map[string]ast.Node{}}
	recording := func(name string) (string, bool) {
		v, ok := lookup(name)
		if ok && v != "" {
			f.env = append(f.env, envValue{name: name, value: v})
		}
		return v, ok
	}
	expanded, cols, envErrs := expandEnv(data, recording)
	f.cols = cols
	for _, e := range envErrs {
		f.errorf(pos{e.line, e.col}, "%s", e.msg)
	}
	if len(envErrs) > 0 {
		return nil
	}
	file, err := parser.ParseBytes(expanded, 0)
	if err != nil {
		f.yamlError(err)
		return nil
	}
	for i, doc := range file.Docs {
		if i == 0 {
			f.body = doc.Body
			continue
		}
		if doc.Body != nil {
			at := f.pos(doc.Body)
			if doc.Start != nil {
				at = f.tokenPos(doc.Start.Position.Line, doc.Start.Position.Column)
			}
			f.errorf(at, "multiple YAML documents are not supported")
			return nil
		}
	}
	if f.body != nil {
		ast.Walk(f, f.body)
	}
	return f
}

// Visit implements ast.Visitor to collect the anchors of the document.
func (f *yamlFile) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok {
		f.anchors[a.Name.GetToken().Value] = a.Value
	}
	return f
}

// yamlError records an error returned by the goccy/go-yaml parser or
// decoder at the position of its token.
func (f *yamlFile) yamlError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		f.errorf(f.tokenPos(ye.GetToken().Position.Line, ye.GetToken().Position.Column), "invalid YAML: %s", strings.ReplaceAll(ye.GetMessage(), "\t", `\t`))
		return
	}
	*f.errs = append(*f.errs, &Error{File: f.name, Msg: fmt.Sprintf("invalid YAML: %v", err), err: err})
}

// errorf records an error at p.
func (f *yamlFile) errorf(p pos, format string, args ...any) {
	*f.errs = append(*f.errs, &Error{File: f.name, Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)})
}

// pos returns the position of n in the original file.
func (f *yamlFile) pos(n ast.Node) pos {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return f.tokenPos(tk.Position.Line, tk.Position.Column)
}

// tokenPos maps a line and column of the expanded text to the original.
func (f *yamlFile) tokenPos(line, col int) pos {
	return pos{line, f.cols.original(line, col)}
}

// resolve follows anchors, aliases, tags and explicit-key markers to the
// node that carries the value. A nil result means the value is absent.
func (f *yamlFile) resolve(n ast.Node) ast.Node {
	for range 100 { // bounds alias chains
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			target, ok := f.anchors[v.Value.GetToken().Value]
			if !ok {
				return n
			}
			n = target
		default:
			return n
		}
	}
	return n
}

// isNull reports whether the resolved node n is absent or null.
func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// describe returns a short description of a resolved node for "got ..."
// parts of error messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("%q", v.Value)
	case *ast.LiteralNode:
		return fmt.Sprintf("%q", v.Value.Value)
	case *ast.AliasNode:
		return fmt.Sprintf("undefined alias *%s", v.Value.GetToken().Value)
	}
	return n.GetToken().Value
}

// scalarString returns the text of a resolved scalar node. Numbers and
// booleans are returned as written, so `bucket: 2024` is "2024".
func scalarString(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// entry is one key of a mapping.
type entry struct {
	key   string
	pos   pos      // position of the key
	node  ast.Node // the value as written, for its position
	value ast.Node // the resolved value
}

// object gives typed access to the keys of a mapping and reports errors
// with a consistent wording.
type object struct {
	f *yamlFile
	// ctx prefixes messages, e.g. `source "sales_data"`; empty for
	// messages that name the key with its full path.
	ctx string
	// path prefixes key names in messages, e.g. "warehouse." or "csv.".
	path string
	// at is where missing keys are reported: the key of the mapping.
	at      pos
	entries map[string]*entry
	order   []string
	bad     bool // not a mapping (already reported); getters do nothing
	// listAllowed makes unknown-key messages list the allowed keys.
	listAllowed bool
}

// object interprets n as a mapping. where names the mapping in unknown-key
// messages (`unknown key "buckt" in source "sales_data"`); allowed lists
// the valid keys, or is nil to allow any key. An absent or null n is an
// empty mapping.
func (f *yamlFile) object(n ast.Node, at pos, ctx, path, where string, allowed ...string) *object {
	return f.newObject(n, at, ctx, path, where, allowed, false)
}

// specObject is object for a mapping whose keys a spec declares: its
// unknown-key messages list the allowed keys, sorted. A nil allowed
// allows any key.
func (f *yamlFile) specObject(n ast.Node, at pos, ctx, path, where string, allowed []string) *object {
	return f.newObject(n, at, ctx, path, where, allowed, true)
}

// newObject is object and specObject: listAllowed names the allowed keys
// in unknown-key messages.
func (f *yamlFile) newObject(n ast.Node, at pos, ctx, path, where string, allowed []string, listAllowed bool) *object {
	o := &object{f: f, ctx: ctx, path: path, at: at, entries: map[string]*entry{}, listAllowed: listAllowed}
	r := f.resolve(n)
	if isNull(r) {
		return o
	}
	m, ok := r.(*ast.MappingNode)
	if !ok {
		switch p, got := f.pos(n), describe(r); {
		case path != "":
			o.errorf(p, "%s must be a mapping, got %s", strings.TrimSuffix(path, "."), got)
		case ctx != "":
			f.errorf(p, "%s must be a mapping, got %s", ctx, got)
		default:
			f.errorf(p, "%s must contain a mapping, got %s", f.name, got)
		}
		o.bad = true
		return o
	}
	var merged []*ast.MappingNode
	for _, mv := range m.Values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merged = append(merged, o.mergeSources(mv.Value)...)
			continue
		}
		o.add(mv, where, allowed)
	}
	for _, mm := range merged {
		for _, mv := range mm.Values {
			if _, ok := mv.Key.(*ast.MergeKeyNode); !ok && o.entries[o.keyText(mv.Key)] == nil {
				o.add(mv, where, allowed)
			}
		}
	}
	return o
}

// mergeSources returns the mappings named by the value of a "<<" key.
func (o *object) mergeSources(v ast.Node) []*ast.MappingNode {
	r := o.f.resolve(v)
	if m, ok := r.(*ast.MappingNode); ok {
		return []*ast.MappingNode{m}
	}
	if seq, ok := r.(*ast.SequenceNode); ok {
		var out []*ast.MappingNode
		for _, item := range seq.Values {
			if m, ok := o.f.resolve(item).(*ast.MappingNode); ok {
				out = append(out, m)
				continue
			}
			o.f.errorf(o.f.pos(item), "<< must merge mappings, got %s", describe(o.f.resolve(item)))
		}
		return out
	}
	o.f.errorf(o.f.pos(v), "<< must merge a mapping, got %s", describe(r))
	return nil
}

// keyText returns the text of a mapping key.
func (o *object) keyText(k ast.Node) string {
	s, _ := scalarString(o.f.resolve(k))
	return s
}

// add records one key of the mapping, reporting unknown keys.
func (o *object) add(mv *ast.MappingValueNode, where string, allowed []string) {
	kp := o.f.pos(mv.Key)
	key, ok := scalarString(o.f.resolve(mv.Key))
	if !ok {
		o.f.errorf(kp, "mapping keys must be strings, got %s", describe(o.f.resolve(mv.Key)))
		return
	}
	if allowed != nil && !slices.Contains(allowed, key) {
		hint := ""
		if o.listAllowed {
			hint = " (allowed: " + strings.Join(slices.Sorted(slices.Values(allowed)), ", ") + ")"
		}
		if where == "" {
			o.f.errorf(kp, "unknown top-level key %q%s", key, hint)
		} else {
			o.f.errorf(kp, "unknown key %q in %s%s", key, where, hint)
		}
		return
	}
	o.entries[key] = &entry{key: key, pos: kp, node: mv.Value, value: o.f.resolve(mv.Value)}
	o.order = append(o.order, key)
}

// errorf records an error prefixed with the object's context.
func (o *object) errorf(p pos, format string, args ...any) {
	if o.ctx != "" {
		format = o.ctx + ": " + format
	}
	o.f.errorf(p, format, args...)
}

// name returns the key as named in messages, e.g. "warehouse.threads".
func (o *object) name(key string) string {
	return strings.TrimSuffix(o.path+key, ".")
}

// get returns the entry for key if it is present and not null.
func (o *object) get(key string) (*entry, bool) {
	e, ok := o.entries[key]
	if !ok || isNull(e.value) {
		return nil, false
	}
	return e, true
}

// has reports whether key is present with a non-null value.
func (o *object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

// keyPos returns the position of key, or the object's position if absent.
func (o *object) keyPos(key string) pos {
	if e, ok := o.entries[key]; ok {
		return e.pos
	}
	return o.at
}

// valuePos returns the position of key's value. It returns the position
// of the key if the value is null (the parser places implicit nulls
// unreliably), and that of the object if the key is absent.
func (o *object) valuePos(key string) pos {
	e, ok := o.entries[key]
	switch {
	case !ok:
		return o.at
	case isNull(e.value):
		return e.pos
	}
	return o.f.pos(e.node)
}

// node returns the value of key as written (nil if absent).
func (o *object) node(key string) ast.Node {
	if e, ok := o.entries[key]; ok {
		return e.node
	}
	return nil
}

// typeError reports that key's value is not of the wanted kind.
func (o *object) typeError(e *entry, want string) {
	o.errorf(o.f.pos(e.node), "%s must be %s, got %s", o.name(e.key), want, describe(e.value))
}

// str stores key's value in dst if it is a non-empty scalar and reports
// whether it did. Null and "" count as unset, so that `${VAR:-}` leaves a
// setting at its default.
func (o *object) str(key string, dst *string) bool {
	e, ok := o.get(key)
	if !ok {
		return false
	}
	s, ok := scalarString(e.value)
	if !ok {
		o.typeError(e, "a string")
		return false
	}
	if s == "" {
		return false
	}
	*dst = s
	return true
}

// required is str for a key that must be present and non-empty.
func (o *object) required(key string, dst *string) bool {
	if o.bad {
		return false
	}
	e, present := o.entries[key]
	if !present {
		o.errorf(o.at, "missing required key %q", o.name(key))
		return false
	}
	s, ok := scalarString(e.value)
	switch {
	case isNull(e.value):
		o.errorf(e.pos, "%s must not be empty", o.name(key))
	case !ok:
		o.typeError(e, "a string")
	case s == "":
		o.errorf(o.valuePos(key), "%s must not be empty", o.name(key))
	default:
		*dst = s
		return true
	}
	return false
}

// integer stores key's value in dst if it is an integer.
func (o *object) integer(key string, dst *int) bool {
	e, ok := o.get(key)
	if !ok {
		return false
	}
	if n, ok := e.value.(*ast.IntegerNode); ok {
		switch v := n.Value.(type) {
		case int64:
			if v >= math.MinInt && v <= math.MaxInt {
				*dst = int(v)
				return true
			}
		case uint64:
			if v <= math.MaxInt {
				*dst = int(v)
				return true
			}
		}
		o.errorf(o.f.pos(e.node), "%s is out of range: %s", o.name(key), describe(e.value))
		return false
	}
	o.typeError(e, "an integer")
	return false
}

// number stores key's value in dst if it is a number.
func (o *object) number(key string, dst *float64) bool {
	e, ok := o.get(key)
	if !ok {
		return false
	}
	switch n := e.value.(type) {
	case *ast.FloatNode:
		*dst = n.Value
		return true
	case *ast.IntegerNode:
		var i int
		if o.integer(key, &i) {
			*dst = float64(i)
			return true
		}
		return false
	}
	o.typeError(e, "a number")
	return false
}

// ratio stores key's value in dst if it is a number between 0 and 1.
func (o *object) ratio(key string, dst *float64) bool {
	var v float64
	if !o.number(key, &v) {
		return false
	}
	if v < 0 || v > 1 {
		o.errorf(o.valuePos(key), "%s must be between 0 and 1, got %s", o.name(key), describe(o.entries[key].value))
		return false
	}
	*dst = v
	return true
}

// boolean stores key's value in dst if it is true or false.
func (o *object) boolean(key string, dst *bool) bool {
	e, ok := o.get(key)
	if !ok {
		return false
	}
	b, ok := e.value.(*ast.BoolNode)
	if !ok {
		o.typeError(e, "true or false")
		return false
	}
	*dst = b.Value
	return true
}

// list stores key's value in dst if it is a list of strings, or a single
// string (a one-element list), and returns the position of each element.
func (o *object) list(key string, dst *[]string) ([]pos, bool) {
	e, ok := o.get(key)
	if !ok {
		return nil, false
	}
	if s, ok := scalarString(e.value); ok {
		*dst = []string{s}
		return []pos{o.f.pos(e.node)}, true
	}
	seq, ok := e.value.(*ast.SequenceNode)
	if !ok {
		o.typeError(e, "a list of strings")
		return nil, false
	}
	out := make([]string, 0, len(seq.Values))
	ps := make([]pos, 0, len(seq.Values))
	good := true
	for i, item := range seq.Values {
		s, ok := scalarString(o.f.resolve(item))
		if !ok {
			o.errorf(o.f.pos(item), "%s[%d] must be a string, got %s", o.name(key), i, describe(o.f.resolve(item)))
			good = false
			continue
		}
		out = append(out, s)
		ps = append(ps, o.f.pos(item))
	}
	if !good {
		return nil, false
	}
	*dst = out
	return ps, true
}

// duration reads a Go duration such as "90s" or "1h30m".
func (o *object) duration(key string, dst *time.Duration) bool {
	var s string
	if !o.str(key, &s) {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		o.errorf(o.valuePos(key), "%s %q is not a duration (use a number and a unit, such as 30s, 5m or 1h)", o.name(key), s)
		return false
	}
	*dst = d
	return true
}
