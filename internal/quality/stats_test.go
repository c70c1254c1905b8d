package quality

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestEntropy(t *testing.T) {
	cases := []struct {
		pk, qk []float64
		want   float64
	}{
		{[]float64{0.5, 0.5}, []float64{0.5, 0.5}, 0},
		{[]float64{1, 1}, []float64{1, 3}, 0.5*math.Log(0.5/0.25) + 0.5*math.Log(0.5/0.75)},
		{[]float64{0.54, 0.32, 0.14}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, 0.1259970028667753},
		{[]float64{0, 1}, []float64{1, 0}, math.Inf(1)},
		{[]float64{0, 1}, []float64{0.5, 0.5}, math.Log(2)},
	}
	for _, c := range cases {
		if got := entropy(c.pk, c.qk); math.Abs(got-c.want) > 1e-12 && !(math.IsInf(got, 1) && math.IsInf(c.want, 1)) {
			t.Errorf("entropy(%v, %v) = %v, want %v", c.pk, c.qk, got, c.want)
		}
	}
	if got := entropy([]float64{0, 0}, []float64{1, 1}); !math.IsNaN(got) {
		t.Errorf("entropy of no mass = %v, want NaN", got)
	}
}

// The two-sided KS critical values of Miller's (1956) table: at these D the
// p-value is 0.05 (and 0.01).
func TestKSPValueAgainstTables(t *testing.T) {
	cases := []struct {
		n    int
		d, p float64
	}{
		{10, 0.40925, 0.05},
		{20, 0.29408, 0.05},
		{30, 0.24170, 0.05},
		{10, 0.48893, 0.01},
		{20, 0.35241, 0.01},
	}
	for _, c := range cases {
		if got := ksPValue(c.n, c.d); math.Abs(got-c.p) > 0.0005 {
			t.Errorf("ksPValue(%d, %v) = %v, want %v", c.n, c.d, got, c.p)
		}
	}
	// Exact and asymptotic agree for a large sample.
	exact := 1 - kolmogorovCDF(2000, 0.03)
	asym := ksPValue(2001, 0.03)
	if math.Abs(exact-asym) > 0.005 {
		t.Errorf("exact %v and asymptotic %v differ at n=2000", exact, asym)
	}
	if ksPValue(5, 0) != 1 || ksPValue(5, 1) != 0 || !math.IsNaN(ksPValue(0, 0.5)) {
		t.Error("edge cases")
	}
	if p := ksPValue(500, 0.5); p > 1e-10 {
		t.Errorf("a huge D has p %v", p)
	}
}

func TestKSStatistic(t *testing.T) {
	uniform := func(x float64) float64 { return math.Min(1, math.Max(0, x)) }
	if d := ksStatistic([]float64{0.1, 0.3, 0.5, 0.7, 0.9}, uniform); math.Abs(d-0.1) > 1e-12 {
		t.Errorf("D = %v, want 0.1", d)
	}
	if d := ksStatistic([]float64{0.9, 0.95, 1}, uniform); math.Abs(d-0.9) > 1e-12 {
		t.Errorf("D = %v, want 0.9", d)
	}
}

func TestDistributionCDFs(t *testing.T) {
	cases := []struct {
		name   string
		params any
		x      float64
		want   float64
	}{
		{"norm", map[string]any{"mean": 0.0, "std_dev": 1.0}, 1.96, 0.9750021048517795},
		{"norm", []any{1.0, 2.0}, 1, 0.5},
		{"uniform", map[string]any{"min": -5.0, "max": 11.0}, 0.5, 0.5},
		{"uniform", []any{-5.0, 11.0}, 7, 1},
		{"expon", map[string]any{"loc": 4.2, "scale": 10.0}, 14.2, 1 - math.Exp(-1)},
		{"expon", []any{0.0}, -1, 0},
		{"gamma", map[string]any{"alpha": 2.0, "loc": 20.0, "scale": 3.0}, 26, distuv.Gamma{Alpha: 2, Beta: 1}.CDF(2)},
		{"chi2", []any{30.0, 3.0, 5.0}, 153, distuv.ChiSquared{K: 30}.CDF(30)},
		{"beta", map[string]any{"alpha": 0.5, "beta": 10.0, "loc": 5.0, "scale": 11.0}, 5 + 11*0.1, distuv.Beta{Alpha: 0.5, Beta: 10}.CDF(0.1)},
		{"beta", []any{0.5, 10.0}, 2, 1},
	}
	for _, c := range cases {
		cdf, _, err := distributionCDF(c.name, c.params)
		if err != nil {
			t.Errorf("%s %v: %v", c.name, c.params, err)
			continue
		}
		if got := cdf(c.x); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s %v: cdf(%v) = %v, want %v", c.name, c.params, c.x, got, c.want)
		}
	}
	for _, bad := range []struct {
		name   string
		params any
	}{
		{"cauchy", []any{0.0}},
		{"norm", map[string]any{"mean": 0.0}},
		{"norm", map[string]any{"mean": 0.0, "std_dev": -1.0}},
		{"norm", []any{1.0}},
		{"norm", "0,1"},
		{"gamma", []any{-2.0}},
		{"chi2", map[string]any{"df": 3.0, "scale": 0.0}},
		{"uniform", []any{0.0, 0.0}},
		{"beta", map[string]any{"alpha": 1.0, "beta": "x"}},
	} {
		if _, _, err := distributionCDF(bad.name, bad.params); err == nil {
			t.Errorf("%s %v: no error", bad.name, bad.params)
		}
	}
}

func TestParsePartition(t *testing.T) {
	good := []any{
		map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{0.5, 0.5}},
		map[string]any{"bins": []any{"-Infinity", 0.0, "Infinity"}, "weights": []any{0.5, 0.5}},
		map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.8}, "tail_weights": []any{0.1, 0.1}},
		map[string]any{"values": []any{"a", "b"}, "weights": []any{0.25, 0.75}},
	}
	for _, g := range good {
		if _, err := parsePartition(g); err != nil {
			t.Errorf("%v: %v", g, err)
		}
	}
	bad := []any{
		nil,
		map[string]any{},
		map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.5, 0.5}},
		map[string]any{"bins": []any{1.0, 0.0}, "weights": []any{1.0}},
		map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.9}},
		map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.8}, "tail_weights": []any{0.2}},
		map[string]any{"values": []any{"a"}, "weights": []any{0.5, 0.5}},
		map[string]any{"values": []any{"a", "b"}, "weights": []any{1.5, -0.5}},
		map[string]any{"bins": []any{"x", 1.0}, "weights": []any{1.0}},
	}
	for _, b := range bad {
		if _, err := parsePartition(b); err == nil {
			t.Errorf("%v: no error", b)
		}
	}
}

func TestStrftimeRegexAndTypeFamilies(t *testing.T) {
	re, err := strftimeRegex("%Y-%m-%d %H:%M:%S")
	if err != nil || re != `^\d{4}-(0?[1-9]|1[0-2])-(0?[1-9]|[12]\d|3[01]) ([01]?\d|2[0-3]):[0-5]?\d:([0-5]?\d|60)$` {
		t.Fatalf("regex %q %v", re, err)
	}
	if _, err := strftimeRegex("%Q"); err == nil {
		t.Error("unknown directive accepted")
	}
	if _, err := strftimeRegex("100%"); err == nil {
		t.Error("trailing % accepted")
	}
	for _, same := range [][2]string{{"INTEGER", "BIGINT"}, {"DOUBLE_PRECISION", "FLOAT"}, {"TEXT", "VARCHAR(20)"}, {"str", "STRING"}, {"datetime64[ns]", "TIMESTAMP"}} {
		if typeFamily(same[0]) != typeFamily(same[1]) {
			t.Errorf("%s and %s are not one family", same[0], same[1])
		}
	}
	if typeFamily("INTEGER") == typeFamily("TEXT") || typeFamily("BOOLEAN") == typeFamily("DOUBLE") {
		t.Error("different families merged")
	}
}
