package config

import (
	"fmt"
	"reflect"
	"testing"
)

// mapEnv returns a lookup function over a fixed set of variables.
func mapEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestExpandEnv(t *testing.T) {
	env := mapEnv(map[string]string{
		"BUCKET": "my-bucket",
		"EMPTY":  "",
		"UNI":    "ünï",
		"NL":     "a\nb",
	})
	tests := []struct {
		name string
		in   string
		want string
		errs []string // "line:col: msg"
	}{
		{"no references", "a: b\n", "a: b\n", nil},
		{"set variable", "bucket: ${BUCKET}\n", "bucket: my-bucket\n", nil},
		{"two on a line", "p: ${BUCKET}/${BUCKET}\n", "p: my-bucket/my-bucket\n", nil},
		{"default unused", "b: ${BUCKET:-other}\n", "b: my-bucket\n", nil},
		{"default for unset", "b: ${NOPE:-other}\n", "b: other\n", nil},
		{"default for empty", "b: ${EMPTY:-other}\n", "b: other\n", nil},
		{"empty default", "dsn: ${NOPE:-}\n", "dsn: \n", nil},
		{"default with spaces and colons", "u: ${NOPE:-http://h:1/a b}\n", "u: http://h:1/a b\n", nil},
		{"set but empty without default", "b: ${EMPTY}\n", "b: \n", nil},
		{"dollar escape", "p: $$HOME costs $$5\n", "p: $HOME costs $5\n", nil},
		{"escaped reference", "p: $${BUCKET}\n", "p: ${BUCKET}\n", nil},
		{"lone dollar kept", "p: $HOME and $ and a$\n", "p: $HOME and $ and a$\n", nil},
		{"multibyte value", "u: ${UNI}\n", "u: ünï\n", nil},
		{"comment line skipped", "  # ${NOPE} $$\nb: ${BUCKET}\n", "  # ${NOPE} $$\nb: my-bucket\n", nil},
		{"no final newline", "b: ${BUCKET}", "b: my-bucket", nil},
		{"unset", "a: 1\ndsn: ${DSN}\n", "a: 1\ndsn: \n", []string{
			"2:6: environment variable DSN is not set (use ${DSN:-default} to give a default)",
		}},
		{"unset after multibyte", "é: ${DSN}\n", "é: \n", []string{
			"1:4: environment variable DSN is not set (use ${DSN:-default} to give a default)",
		}},
		{"every error on a line", "x: ${A} ${B}\n", "x:  \n", []string{
			"1:4: environment variable A is not set (use ${A:-default} to give a default)",
			"1:9: environment variable B is not set (use ${B:-default} to give a default)",
		}},
		{"unterminated", "x: ${BUCKET\ny: 1\n", "x: ${BUCKET\ny: 1\n", []string{
			"1:4: unterminated ${ (missing })",
		}},
		{"empty name", "x: ${}\n", "x: \n", []string{
			"1:4: invalid environment variable reference ${} (want ${NAME} or ${NAME:-default})",
		}},
		{"bad name", "x: ${1A:-b}\n", "x: \n", []string{
			"1:4: invalid environment variable reference ${1A:-b} (want ${NAME} or ${NAME:-default})",
		}},
		{"other operator", "x: ${A:?msg}\n", "x: \n", []string{
			"1:4: invalid environment variable reference ${A:?msg} (want ${NAME} or ${NAME:-default})",
		}},
		{"line break in value", "x: ${NL}\n", "x: \n", []string{
			"1:4: environment variable NL contains a line break",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, errs := expandEnv([]byte(tt.in), env)
			if string(out) != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, out, tt.want)
			}
			var got []string
			for _, e := range errs {
				got = append(got, fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg))
			}
			if !reflect.DeepEqual(got, tt.errs) {
				t.Errorf("errors = %q, want %q", got, tt.errs)
			}
		})
	}
}

func TestExpandEnvColumns(t *testing.T) {
	// "k: ${A}x $$ ${B:-dd}yy" expands to "k: LONGVALUEx $ yy".
	env := mapEnv(map[string]string{"A": "LONGVALUE", "B": ""})
	out, cols, errs := expandEnv([]byte("first: 1\nk: ${A}x $$ ${B:-dd}yy\n"), env)
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	if want := "first: 1\nk: LONGVALUEx $ ddyy\n"; string(out) != want {
		t.Fatalf("expanded = %q, want %q", out, want)
	}
	tests := []struct {
		line, col, want int
	}{
		{1, 5, 5},   // untouched line
		{2, 1, 1},   // "k" before any reference
		{2, 4, 4},   // start of the value maps to '$' of ${A}
		{2, 12, 4},  // inside LONGVALUE maps to '$' too
		{2, 13, 8},  // "x" after ${A}
		{2, 15, 10}, // "$" from "$$"
		{2, 16, 12}, // the space after "$$"
		{2, 17, 13}, // "dd" from the default
		{2, 19, 21}, // "yy"
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d:%d", tt.line, tt.col), func(t *testing.T) {
			if got := cols.original(tt.line, tt.col); got != tt.want {
				t.Errorf("original(%d, %d) = %d, want %d", tt.line, tt.col, got, tt.want)
			}
		})
	}
}
