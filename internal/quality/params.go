package quality

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Evaluation parameters: a kwarg written as {"$PARAMETER": "expr"} is
// replaced by the value of expr before the expectation compiles. Like GE's
// evaluation parameters, expr is arithmetic over numbers, named parameters
// of the suite, now(), today(), datetime(...), date(...) and
// timedelta(...) with Python's keyword names; a date or time result becomes
// an ISO 8601 string.

// resolveParams returns kw with every evaluation parameter evaluated.
func resolveParams(kw Kwargs, now time.Time, named map[string]any) (Kwargs, error) {
	var out Kwargs
	for k, v := range kw {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		expr, ok := m["$PARAMETER"].(string)
		if !ok {
			continue
		}
		val, err := evalParam(expr, now, named)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: evaluation parameter %q: %v", ErrInvalidKwargs, k, expr, err)
		}
		if out == nil {
			out = make(Kwargs, len(kw))
			for k2, v2 := range kw {
				out[k2] = v2
			}
		}
		out[k] = val
	}
	if out == nil {
		return kw, nil
	}
	return out, nil
}

// evalParam evaluates one evaluation parameter expression.
func evalParam(expr string, now time.Time, named map[string]any) (any, error) {
	p := &paramParser{src: expr, now: now.UTC(), named: named}
	p.next()
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok != "" {
		return nil, fmt.Errorf("unexpected %q", p.tok)
	}
	switch x := v.(type) {
	case time.Time:
		return x.Format("2006-01-02T15:04:05.999999"), nil
	case time.Duration:
		return x.Seconds(), nil
	}
	return v, nil
}

type paramParser struct {
	src   string
	pos   int
	tok   string // current token; "" at the end
	now   time.Time
	named map[string]any
}

func (p *paramParser) next() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	start := p.pos
	c := rune(p.src[p.pos])
	switch {
	case unicode.IsDigit(c) || c == '.':
		for p.pos < len(p.src) && (unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '.') {
			p.pos++
		}
	case unicode.IsLetter(c) || c == '_':
		for p.pos < len(p.src) && (unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '_') {
			p.pos++
		}
	default:
		p.pos++
	}
	p.tok = p.src[start:p.pos]
}

func (p *paramParser) expect(tok string) error {
	if p.tok != tok {
		return fmt.Errorf("want %q, got %q", tok, p.tok)
	}
	p.next()
	return nil
}

func (p *paramParser) expr() (any, error) {
	v, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.tok == "+" || p.tok == "-" {
		op := p.tok
		p.next()
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		if v, err = arith(op, v, r); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *paramParser) term() (any, error) {
	v, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.tok == "*" || p.tok == "/" {
		op := p.tok
		p.next()
		r, err := p.factor()
		if err != nil {
			return nil, err
		}
		if v, err = arith(op, v, r); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *paramParser) factor() (any, error) {
	tok := p.tok
	switch {
	case tok == "":
		return nil, fmt.Errorf("unexpected end")
	case tok == "-":
		p.next()
		v, err := p.factor()
		if err != nil {
			return nil, err
		}
		return arith("*", v, -1.0)
	case tok == "(":
		p.next()
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		return v, p.expect(")")
	case unicode.IsDigit(rune(tok[0])) || tok[0] == '.':
		p.next()
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", tok)
		}
		return f, nil
	case unicode.IsLetter(rune(tok[0])) || tok[0] == '_':
		p.next()
		if p.tok != "(" {
			v, ok := p.named[tok]
			if !ok {
				return nil, fmt.Errorf("unknown parameter %q", tok)
			}
			if f, ok := toFloat(v); ok {
				return f, nil
			}
			if s, ok := v.(string); ok {
				if t, ok := parseInstant(s); ok {
					return t, nil
				}
			}
			return v, nil
		}
		p.next()
		var pos []float64
		kw := map[string]float64{}
		for p.tok != ")" {
			name := ""
			if rest := strings.TrimLeft(p.src[p.pos:], " "); strings.HasPrefix(rest, "=") && unicode.IsLetter(rune(p.tok[0])) {
				name = p.tok
				p.next()
				p.next()
			}
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			f, ok := v.(float64)
			if !ok {
				return nil, fmt.Errorf("%s() takes numbers", tok)
			}
			if name != "" {
				kw[name] = f
			} else {
				pos = append(pos, f)
			}
			if p.tok == "," {
				p.next()
			} else if p.tok != ")" {
				return nil, fmt.Errorf("want , or ) in %s()", tok)
			}
		}
		p.next()
		return p.call(tok, pos, kw)
	}
	return nil, fmt.Errorf("unexpected %q", tok)
}

func (p *paramParser) call(name string, pos []float64, kw map[string]float64) (any, error) {
	arg := func(i int, key string, def float64) float64 {
		if v, ok := kw[key]; ok {
			return v
		}
		if i < len(pos) {
			return pos[i]
		}
		return def
	}
	switch strings.ToLower(name) {
	case "now":
		return p.now, nil
	case "today":
		y, m, d := p.now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case "datetime", "date":
		if len(pos)+len(kw) < 3 {
			return nil, fmt.Errorf("%s() needs year, month and day", name)
		}
		return time.Date(int(arg(0, "year", 0)), time.Month(int(arg(1, "month", 1))), int(arg(2, "day", 1)),
			int(arg(3, "hour", 0)), int(arg(4, "minute", 0)), int(arg(5, "second", 0)),
			int(arg(6, "microsecond", 0))*1000, time.UTC), nil
	case "timedelta":
		secs := arg(0, "days", 0)*86400 + arg(1, "seconds", 0) + arg(2, "microseconds", 0)/1e6 +
			arg(3, "milliseconds", 0)/1e3 + arg(4, "minutes", 0)*60 + arg(5, "hours", 0)*3600 + arg(6, "weeks", 0)*7*86400
		return time.Duration(secs * float64(time.Second)), nil
	}
	return nil, fmt.Errorf("unknown function %s()", name)
}

// arith applies a binary operator to numbers, instants and durations.
func arith(op string, a, b any) (any, error) {
	switch x := a.(type) {
	case float64:
		switch y := b.(type) {
		case float64:
			switch op {
			case "+":
				return x + y, nil
			case "-":
				return x - y, nil
			case "*":
				return x * y, nil
			case "/":
				if y == 0 {
					return nil, fmt.Errorf("division by zero")
				}
				return x / y, nil
			}
		case time.Duration:
			if op == "*" {
				return time.Duration(math.Round(x * float64(y))), nil
			}
		}
	case time.Duration:
		switch y := b.(type) {
		case float64:
			switch op {
			case "*":
				return time.Duration(math.Round(float64(x) * y)), nil
			case "/":
				if y == 0 {
					return nil, fmt.Errorf("division by zero")
				}
				return time.Duration(math.Round(float64(x) / y)), nil
			}
		case time.Duration:
			switch op {
			case "+":
				return x + y, nil
			case "-":
				return x - y, nil
			}
		}
	case time.Time:
		switch y := b.(type) {
		case time.Duration:
			switch op {
			case "+":
				return x.Add(y), nil
			case "-":
				return x.Add(-y), nil
			}
		case time.Time:
			if op == "-" {
				return x.Sub(y), nil
			}
		}
	}
	return nil, fmt.Errorf("cannot apply %s to %s and %s", op, kindOf(a), kindOf(b))
}
