package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/shp-dev/shp/internal/schema"
)

// Check verifies what LoadDir does not: that every source's schema file
// exists and is a valid schema, that the key columns of merge pipelines
// exist in their source's schema, and that the columns a pipeline's
// table design names (partition_by, cluster_by) exist there with a type
// the layout can use. Problems are reported as an
// Errors value positioned at the schema or key value that refers to them.
func (p *Project) Check() error {
	var errs Errors
	add := func(file string, at pos, err error, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: at.line, Column: at.col, Msg: fmt.Sprintf(format, args...), err: err})
	}
	schemas := map[string]schema.Schema{}
	for _, name := range p.SourceNames() {
		s := p.Sources[name]
		if s.Schema == "" {
			continue
		}
		data, err := os.ReadFile(resolve(p.Dir, s.Schema))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add(sourcesFile, s.schemaPos, err, "source %q: schema file %q not found", name, s.Schema)
			continue
		case err != nil:
			add(sourcesFile, s.schemaPos, err, "source %q: cannot read schema file: %v", name, err)
			continue
		}
		sch, err := schema.Parse(data, s.Schema)
		if err != nil {
			add(sourcesFile, s.schemaPos, err, "source %q: invalid schema: %v", name, err)
			continue
		}
		schemas[name] = sch
	}
	for _, name := range p.PipelineNames() {
		pl := p.Config.Pipelines[name]
		sch, ok := schemas[pl.Source]
		if !ok {
			continue
		}
		for i, k := range pl.Key {
			if _, ok := sch.Lookup(k); ok {
				continue
			}
			var at pos
			if i < len(pl.keyPos) {
				at = pl.keyPos[i]
			}
			add(configFile, at, nil, "pipeline %q: key column %q is not in the schema of source %q (%s)",
				name, k, pl.Source, p.Sources[pl.Source].Schema)
		}
		checkDesign(pl, p.Sources[pl.Source], sch, func(at pos, format string, args ...any) {
			add(configFile, at, nil, format, args...)
		})
	}
	return errs.orNil()
}
