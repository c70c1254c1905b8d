package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	p, err := LoadDir(filepath.Join("testdata", "check"), noEnv)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	err = p.Check()
	want := strings.Join([]string{
		`config.yaml:6:21: pipeline "sales": key column "customer_id" is not in the schema of source "sales_data" (schemas/sales.json)`,
		`sources.yaml:9:13: source "orders": invalid schema: schemas/orders.json: field 1 "order_id": unknown type "MONEY"`,
		`sources.yaml:13:13: source "events": schema file "schemas/missing.json" not found`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("Check =\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("Check error does not wrap fs.ErrNotExist for the missing file")
	}
}

func TestCheckUnreadableSchema(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"config.yaml":           okConfig,
		"sources.yaml":          okSource + "    schema: schemas/s.json\n",
		"schemas/s.json/inside": "", // a directory where the file should be
	})
	p, err := LoadDir(dir, noEnv)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	err = p.Check()
	want := `sources.yaml:5:13: source "s": cannot read schema file: read ` + filepath.Join(dir, "schemas", "s.json") + `: is a directory`
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %s", err, want)
	}
}

func TestCheckSyntaxErrorInSchema(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"config.yaml":    okConfig,
		"sources.yaml":   okSource + "    schema: s.json\n",
		"s.json":         "[\n  {\"name\": \"a\",, \"type\": \"STRING\"}\n]\n",
		"unrelated.yaml": "not: checked\n",
	})
	p, err := LoadDir(dir, noEnv)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	err = p.Check()
	want := `sources.yaml:5:13: source "s": invalid schema: s.json:2:16: invalid character ',' looking for beginning of object key string`
	if err == nil || err.Error() != want {
		t.Fatalf("Check = %v, want %s", err, want)
	}
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		t.Error("Check error does not wrap the *json.SyntaxError")
	}
}

func TestCheckProjectBuiltInCode(t *testing.T) {
	// A Project assembled without LoadDir has no positions: errors name
	// the file only.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(`[{"name": "id", "type": "INT64"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Project{
		Dir:     dir,
		Sources: map[string]*Source{"s": {Name: "s", Type: SourceFile, Path: "x", Schema: "s.json"}},
		Config: Config{Pipelines: map[string]*Pipeline{
			"p": {Name: "p", Source: "s", Mode: ModeMerge, Key: []string{"id", "other"}},
		}},
	}
	err := p.Check()
	want := `config.yaml: pipeline "p": key column "other" is not in the schema of source "s" (s.json)`
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %s", err, want)
	}
}

func TestErrorFormatting(t *testing.T) {
	cause := fs.ErrPermission
	errs := Errors{
		{File: "sources.yaml", Line: 7, Column: 5, Msg: `unknown key "buckt" in source "sales_data"`},
		{File: "config.yaml", Msg: "cannot read file", err: cause},
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"positioned", errs[0], `sources.yaml:7:5: unknown key "buckt" in source "sales_data"`},
		{"whole file", errs[1], `config.yaml: cannot read file`},
		{"list", errs, "sources.yaml:7:5: unknown key \"buckt\" in source \"sales_data\"\nconfig.yaml: cannot read file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(errs, fs.ErrPermission) {
		t.Error("errors.Is does not find the cause through Errors")
	}
	var e *Error
	if !errors.As(errs, &e) || e != errs[0] {
		t.Errorf("errors.As = %v, want the first error", e)
	}
	unsorted := Errors{
		{File: "other.json", Msg: "c"},
		{File: "sources.yaml", Line: 2, Column: 1, Msg: "b"},
		{File: "config.yaml", Line: 3, Column: 1, Msg: "a"},
		{File: "sources.yaml", Line: 2, Column: 1, Msg: "b"},
		{File: "config.yaml", Line: 1, Column: 9, Msg: "z"},
	}
	if got, want := unsorted.orNil().Error(), "config.yaml:1:9: z\nconfig.yaml:3:1: a\nsources.yaml:2:1: b\nother.json: c"; got != want {
		t.Errorf("orNil() =\n%s\nwant\n%s", got, want)
	}
	if err := (Errors{}).orNil(); err != nil {
		t.Errorf("empty Errors.orNil() = %v, want nil", err)
	}
}
