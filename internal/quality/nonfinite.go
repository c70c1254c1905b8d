package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
)

// Python's json module writes NaN and the infinities as the bare tokens
// NaN, Infinity and -Infinity, which are not JSON but which GE reads. shp
// reads them too: RewriteNonFinite turns each into the one-key object
// {"$numberDouble": "NaN"} (MongoDB Extended JSON's spelling), which any
// JSON decoder accepts, and the suite and rule parsers turn those objects
// into NonFinite values, which stay numbers.

// NonFiniteKey is the key of the one-key object that spells a NonFinite
// in JSON: {"$numberDouble": "NaN"}, "Infinity" or "-Infinity".
const NonFiniteKey = "$numberDouble"

// NonFinite is a number JSON cannot spell: NaN, +Inf or -Inf. Kwargs hold
// it instead of a float64 so that they still marshal, as
// {"$numberDouble": "..."}; expectations read it as the float64 it is, and
// SQL compares with it as a double literal.
type NonFinite float64

// String is Python's spelling: NaN, Infinity or -Infinity.
func (n NonFinite) String() string {
	switch f := float64(n); {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return fmt.Sprint(float64(n))
}

// MarshalJSON writes {"$numberDouble": "NaN"}, "Infinity" or "-Infinity";
// a finite value (which a NonFinite should not hold) as a plain number.
func (n NonFinite) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if !math.IsNaN(f) && !math.IsInf(f, 0) {
		return json.Marshal(f)
	}
	return []byte(`{"` + NonFiniteKey + `":"` + n.String() + `"}`), nil
}

// nonFiniteTokens are Python's bare tokens and the values they stand for.
var nonFiniteTokens = []struct {
	tok string
	val float64
}{
	{"-Infinity", math.Inf(-1)},
	{"Infinity", math.Inf(1)},
	{"NaN", math.NaN()},
}

// Rewrite records where RewriteNonFinite replaced tokens, to map offsets
// in its output back to its input. A nil *Rewrite replaced nothing.
type Rewrite struct {
	// at are the replacements in order: where each starts in the output,
	// and how much longer the output is than the input after it.
	at []rewriteAt
}

type rewriteAt struct {
	outStart, outEnd int64 // the replacement's span in the output
	inStart          int64 // where the token starts in the input
	delta            int64 // output length minus input length, up to outEnd
}

// RewriteNonFinite returns data with each bare NaN, Infinity and
// -Infinity outside strings replaced by {"$numberDouble": "..."}. A token
// is replaced only where a JSON value may start (after '[', ',', ':',
// whitespace or at the start) and only when a delimiter (whitespace, ',',
// ']', '}' or the end) follows, so NaNx, Infinityy or "a NaN" are left as
// they are and a decoder still refuses the first two. data itself is
// returned, with a nil *Rewrite, when it holds no such token.
func RewriteNonFinite(data []byte) ([]byte, *Rewrite) {
	var out []byte
	var rw *Rewrite
	last := 0 // data[:last] is in out already
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if c != 'N' && c != 'I' && c != '-' {
			continue
		}
		if i > 0 && !valueStart(data[i-1]) {
			continue
		}
		for _, t := range nonFiniteTokens {
			end := i + len(t.tok)
			if !bytes.HasPrefix(data[i:], []byte(t.tok)) || (end < len(data) && !valueEnd(data[end])) {
				continue
			}
			if rw == nil {
				rw = &Rewrite{}
				out = make([]byte, 0, len(data)+64)
			}
			out = append(out, data[last:i]...)
			start := int64(len(out))
			out = append(out, `{"`+NonFiniteKey+`":"`+t.tok+`"}`...)
			outEnd := int64(len(out))
			rw.at = append(rw.at, rewriteAt{outStart: start, outEnd: outEnd, inStart: int64(i), delta: outEnd - int64(end)})
			last = end
			i = end - 1
			break
		}
	}
	if rw == nil {
		return data, nil
	}
	return append(out, data[last:]...), rw
}

// valueStart reports whether a JSON value may start after c.
func valueStart(c byte) bool {
	switch c {
	case '[', ',', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// valueEnd reports whether c may follow a JSON value.
func valueEnd(c byte) bool {
	switch c {
	case ']', '}', ',', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// Offset maps an offset in RewriteNonFinite's output to its input; an
// offset inside a replacement maps to the token's start.
func (r *Rewrite) Offset(off int64) int64 {
	if r == nil {
		return off
	}
	// The first replacement ending after off.
	i := sort.Search(len(r.at), func(i int) bool { return r.at[i].outEnd > off })
	if i < len(r.at) && off >= r.at[i].outStart {
		return r.at[i].inStart
	}
	if i == 0 {
		return off
	}
	return off - r.at[i-1].delta
}

// Err maps the offsets of the *json.SyntaxError or *json.UnmarshalTypeError
// in err's chain back to the input, in place, and returns err.
func (r *Rewrite) Err(err error) error {
	if r == nil || err == nil {
		return err
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		syn.Offset = r.Offset(syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		typ.Offset = r.Offset(typ.Offset)
	}
	return err
}

// nonFinites returns v with every {"$numberDouble": "NaN"|"Infinity"|
// "-Infinity"} object and every non-finite float turned into a NonFinite,
// at any depth, and whether it changed anything. Maps and slices holding
// one are copied, never changed in place.
func nonFinites(v any) (any, bool) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return NonFinite(x), true
		}
	case float32:
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return NonFinite(f), true
		}
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x[NonFiniteKey].(string); ok {
				for _, t := range nonFiniteTokens {
					if s == t.tok {
						return NonFinite(t.val), true
					}
				}
			}
		}
		return nonFiniteMap(x)
	case []any:
		var out []any
		for i, e := range x {
			n, changed := nonFinites(e)
			if !changed {
				continue
			}
			if out == nil {
				out = slices.Clone(x)
			}
			out[i] = n
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// nonFiniteMap is nonFinites for a map, keeping its type; nil stays nil.
func nonFiniteMap(m map[string]any) (map[string]any, bool) {
	var out map[string]any
	for k, e := range m {
		n, changed := nonFinites(e)
		if !changed {
			continue
		}
		if out == nil {
			out = maps.Clone(m)
		}
		out[k] = n
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// isNonFinite reports whether v is a NaN or an infinity, and which.
func isNonFinite(v any) (float64, bool) {
	switch x := v.(type) {
	case NonFinite:
		return float64(x), true
	case float64:
		return x, math.IsNaN(x) || math.IsInf(x, 0)
	case float32:
		f := float64(x)
		return f, math.IsNaN(f) || math.IsInf(f, 0)
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && (math.IsNaN(f) || math.IsInf(f, 0))
	}
	return 0, false
}
