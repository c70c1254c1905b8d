package jsonerr

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestReword(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type doc struct {
		S  string            `json:"s"`
		B  bool              `json:"b"`
		F  float64           `json:"f"`
		L  []string          `json:"l"`
		M  map[string]string `json:"m"`
		D  time.Duration     `json:"d"`
		P  *inner            `json:"p"`
		Nu json.Number       `json:"nu"`
	}
	goType := regexp.MustCompile(`map\[|\[\]|\bu?int(8|16|32|64)?\b|float|struct|jsonerr\.|time\.|json\.`)
	for _, tc := range []struct{ body, want string }{
		{`{"s": 1}`, "s must be a string, not number"},
		{`{"b": "x"}`, "b must be true or false, not string"},
		{`{"f": "x"}`, "f must be a number, not string"},
		{`{"l": {}}`, "l must be a list, not object"},
		{`{"l": [1]}`, "l must be a string, not number"},
		{`{"m": []}`, "m must be an object, not array"},
		{`{"m": {"a": 1}}`, "m must be a string, not number"},
		{`{"d": "1h"}`, "d must be a number of nanoseconds, not string"},
		{`{"p": {"n": "x"}}`, "p.n must be an integer, not string"},
		{`{"p": {"n": 1.5}}`, "p.n must be an integer, not number 1.5"},
		{`{"nu": true}`, "nu must be a number, not bool"},
		{`[]`, "the document must be an object, not array"},
	} {
		var d doc
		err := Reword(json.Unmarshal([]byte(tc.body), &d))
		var te *TypeError
		if !errors.As(err, &te) {
			t.Fatalf("%s: %v is not a TypeError", tc.body, err)
		}
		if err.Error() != tc.want {
			t.Errorf("%s: %q, want %q", tc.body, err, tc.want)
		}
		if m := goType.FindString(err.Error()); m != "" {
			t.Errorf("%s: %q names a Go type (%s)", tc.body, err, m)
		}
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) {
			t.Errorf("%s: the json error is not kept", tc.body)
		}
	}
	plain := errors.New("other")
	if Reword(plain) != plain || Reword(nil) != nil {
		t.Error("other errors must pass unchanged")
	}
}
