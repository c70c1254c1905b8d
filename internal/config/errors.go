package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a project's configuration, positioned in the file
// that contains it.
type Error struct {
	// File is the path of the file relative to the project directory,
	// e.g. "sources.yaml".
	File string
	// Line and Column are 1-based; Column counts characters. Both are 0
	// when the problem concerns the whole file (e.g. it cannot be read).
	Line, Column int
	// Msg describes the problem.
	Msg string

	err error // underlying cause, if any
}

// Error returns "file:line:col: msg", or "file: msg" without a position.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Unwrap returns the underlying cause, such as a *fs.PathError, or nil.
func (e *Error) Unwrap() error { return e.err }

// Errors is the list of all problems found in a project, ordered by file
// and position.
type Errors []*Error

// Error returns the messages of all errors, one per line.
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the individual errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// fileOrder is the order in which errors of the project's files are listed.
var fileOrder = []string{configFile, sourcesFile, qualityRulesFile, selfHealingFile}

// sorted returns the errors ordered by file, line and column, keeping the
// order in which errors at the same position were found, without exact
// duplicates (which arise when a merged anchor is checked twice).
func (es Errors) sorted() Errors {
	rank := func(file string) int {
		if i := slices.Index(fileOrder, file); i >= 0 {
			return i
		}
		return len(fileOrder)
	}
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(rank(a.File), rank(b.File)),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
		)
	})
	return slices.CompactFunc(es, func(a, b *Error) bool {
		return a.File == b.File && a.Line == b.Line && a.Column == b.Column && a.Msg == b.Msg
	})
}

// orNil returns the sorted errors as an error, or nil when there are none.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es.sorted()
}
