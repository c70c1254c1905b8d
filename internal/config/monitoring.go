package config

import (
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// MonitoringFile is the monitoring component's file: alert rules,
// receivers and routes (internal/monitor reads it).
const MonitoringFile = "monitoring.yaml"

// PathError is a problem with one value of a YAML file, found by a
// package that reads the file's content: Path leads from the top of the
// file to the value (mapping keys as strings, list indexes as ints), and
// the loader turns it into a line and column.
type PathError struct {
	Path []any
	Msg  string
}

// FileCheck checks the content of an optional file and returns its
// problems.
type FileCheck func(content map[string]any) []PathError

// fileChecks are the checks registered for optional files by the
// packages that read them.
var fileChecks sync.Map // file name -> FileCheck

// RegisterFileCheck makes the loader check file's content with check,
// and report each problem at its line and column. The package that reads
// a file registers its check in an init function.
func RegisterFileCheck(file string, check FileCheck) { fileChecks.Store(file, check) }

// checked parses an optional file that must hold a mapping, runs the
// check registered for it, and returns its content; nil when it is
// absent, empty or has problems (each reported at its position).
func (l *loader) checked(name string) map[string]any {
	f := l.parse(name, false)
	if f == nil || f.body == nil {
		return nil
	}
	raw := l.rawOf(f)
	if raw == nil {
		return nil
	}
	c, ok := fileChecks.Load(name)
	if !ok {
		return raw
	}
	problems := c.(FileCheck)(raw)
	for _, p := range problems {
		f.errorf(f.pos(f.at(p.Path)), "%s", p.Msg)
	}
	if len(problems) > 0 {
		return nil
	}
	return raw
}

// at returns the node at path in the file (a mapping key's value, a
// list's item), or the deepest node on the way that exists.
func (f *yamlFile) at(path []any) ast.Node {
	n := f.body
	for _, step := range path {
		switch v := f.resolve(n).(type) {
		case *ast.MappingNode:
			key, ok := step.(string)
			if !ok {
				return n
			}
			var next ast.Node
			for _, mv := range v.Values {
				if k := f.resolve(mv.Key); k != nil && k.GetToken() != nil && k.GetToken().Value == key {
					next = mv.Value
					if isNull(f.resolve(mv.Value)) {
						next = mv.Key
					}
				}
			}
			if next == nil {
				// A key that is missing: the mapping, at its first key.
				if len(v.Values) > 0 {
					return v.Values[0].Key
				}
				return n
			}
			n = next
		case *ast.MappingValueNode:
			key, ok := step.(string)
			if !ok || f.resolve(v.Key).GetToken().Value != key {
				return n
			}
			n = v.Value
		case *ast.SequenceNode:
			i, ok := step.(int)
			if !ok || i < 0 || i >= len(v.Values) {
				return n
			}
			n = v.Values[i]
		default:
			return n
		}
	}
	return n
}
