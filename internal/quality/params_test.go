package quality

import (
	"errors"
	"testing"
	"time"
)

func TestEvaluationParameters(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	named := map[string]any{"upstream_rows": 1200.0, "cutoff": "2026-01-01"}
	cases := []struct {
		expr string
		want any
	}{
		{"now()", "2026-11-27T10:30:00"},
		{"today()", "2026-11-27T00:00:00"},
		{"now() - timedelta(weeks=52)", "2025-11-28T10:30:00"},
		{"now() - timedelta(weeks=52*100)", "1927-04-01T10:30:00"},
		{"now() + timedelta(days=1, hours=2)", "2026-11-28T12:30:00"},
		{"datetime(2003, 1, 1)", "2003-01-01T00:00:00"},
		{"datetime(1969, 1, 1, 12, 30)", "1969-01-01T12:30:00"},
		{"upstream_rows * 0.9", 1080.0},
		{"(upstream_rows - 200) / 2", 500.0},
		{"-3 + 5", 2.0},
		{"cutoff + timedelta(1)", "2026-01-02T00:00:00"},
		{"now() - datetime(2026, 11, 27)", 37800.0},
	}
	for _, c := range cases {
		got, err := evalParam(c.expr, now, named)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %#v, want %#v", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{"", "now(", "unknown_param", "nope()", "1 / 0", "now() * 2", "datetime(2003)", "1 +", "timedelta(days=now())", "3 4"} {
		if _, err := evalParam(bad, now, named); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestResolveParamsInKwargs(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kw := Kwargs{"column": "ts", "max_value": map[string]any{"$PARAMETER": "now()"}, "min_value": 1}
	out, err := resolveParams(kw, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["max_value"] != "2026-01-01T00:00:00" || out["min_value"] != 1 || out["column"] != "ts" {
		t.Fatalf("resolved %v", out)
	}
	if _, ok := kw["max_value"].(map[string]any); !ok {
		t.Fatal("the configured kwargs were changed in place")
	}
	same, _ := resolveParams(Kwargs{"column": "x"}, now, nil)
	if same["column"] != "x" {
		t.Fatal(same)
	}
	_, err = resolveParams(Kwargs{"max_value": map[string]any{"$PARAMETER": "boom()"}}, now, nil)
	if !errors.Is(err, ErrInvalidKwargs) {
		t.Fatalf("error %v, want ErrInvalidKwargs", err)
	}
}
