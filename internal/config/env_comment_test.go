package config

import "testing"

func TestExpandEnvLeavesCommentsAlone(t *testing.T) {
	lookup := func(name string) (string, bool) {
		if name == "SET" {
			return "v", true
		}
		return "", false
	}
	tests := []struct{ in, want string }{
		{"dsn: ${SET}  # or ${UNSET}\n", "dsn: v  # or ${UNSET}\n"},
		{"a: '# ${SET}'\n", "a: '# v'\n"},
		{"a: \"x # ${SET}\"  # ${UNSET}\n", "a: \"x # v\"  # ${UNSET}\n"},
		{"a: x#${SET}\n", "a: x#v\n"},
		{"d: it's ${SET} # ${UNSET}\n", "d: it's v # ${UNSET}\n"},
		{"- '${SET}' # ${UNSET}\n", "- 'v' # ${UNSET}\n"},
		{"a: \"q\\\" # ${SET}\"\n", "a: \"q\\\" # v\"\n"},
	}
	for _, tc := range tests {
		got, _, errs := expandEnv([]byte(tc.in), lookup)
		if len(errs) > 0 || string(got) != tc.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tc.in, got, errs, tc.want)
		}
	}
}
