package schema

import (
	"strings"
	"testing"
)

func TestDecimalPrecisionAndScale(t *testing.T) {
	tests := []struct {
		in         string
		prec, scal int
		err        string
	}{
		{`[{"name":"p","type":"NUMERIC","precision":"12","scale":"2"}]`, 12, 2, ""},
		{`[{"name":"p","type":"BIGNUMERIC","precision":20}]`, 20, 0, ""},
		{`[{"name":"p","type":"NUMERIC"}]`, 0, 0, ""},
		{`[{"name":"p","type":"STRING","precision":"3"}]`, 0, 0, "apply to NUMERIC and BIGNUMERIC, not STRING"},
		{`[{"name":"p","type":"NUMERIC","scale":"2"}]`, 0, 0, "scale needs a precision"},
		{`[{"name":"p","type":"NUMERIC","precision":"40"}]`, 0, 0, `precision "40" must be a whole number from 1 to 38`},
		{`[{"name":"p","type":"NUMERIC","precision":"5","scale":"6"}]`, 0, 0, `scale "6" must be a whole number from 0 to the precision 5`},
	}
	for _, tc := range tests {
		s, err := Parse([]byte(tc.in), "s.json")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s[0].Precision != tc.prec || s[0].Scale != tc.scal {
			t.Errorf("%s: %+v %v", tc.in, s, err)
		}
	}
}
