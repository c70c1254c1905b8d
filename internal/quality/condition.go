package quality

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// conditionTerm matches one comparison of GE's condition parser:
// col("name") OP value, where value is a number or a quoted string.
var conditionTerm = regexp.MustCompile(`^\s*col\(\s*["']([^"']+)["']\s*\)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$`)

var notNullTerm = regexp.MustCompile(`^\s*col\(\s*["']([^"']+)["']\s*\)\s*\.\s*notNull\(\)\s*$`)

// parseCondition compiles the row_condition kwarg ("great_expectations"
// condition parser: comparisons and .notNull() joined by & or |) into SQL
// with bound values. Other parsers are rejected.
func (e *Env) parseCondition(kw Kwargs) error {
	raw, ok := kw["row_condition"]
	if !ok || raw == nil || raw == "" {
		return nil
	}
	text, ok := raw.(string)
	if !ok {
		return fmt.Errorf("%w: row_condition must be a string", ErrInvalidKwargs)
	}
	if p, _ := kw["condition_parser"].(string); p != "" && p != "great_expectations" && p != "great_expectations__experimental__" {
		return fmt.Errorf("%w: condition_parser %q is not supported (use great_expectations)", ErrInvalidKwargs, p)
	}
	var parts []string
	for _, or := range strings.Split(text, "|") {
		var ands []string
		for _, term := range strings.Split(or, "&") {
			term = strings.TrimSpace(term)
			for strings.HasPrefix(term, "(") && strings.HasSuffix(term, ")") {
				term = strings.TrimSpace(term[1 : len(term)-1])
			}
			sql, err := e.conditionTerm(term)
			if err != nil {
				return err
			}
			ands = append(ands, sql)
		}
		parts = append(parts, "("+strings.Join(ands, " AND ")+")")
	}
	e.cond = strings.Join(parts, " OR ")
	return nil
}

func (e *Env) conditionTerm(term string) (string, error) {
	if m := notNullTerm.FindStringSubmatch(term); m != nil {
		col, err := e.Col(m[1])
		if err != nil {
			return "", err
		}
		return col + " IS NOT NULL", nil
	}
	m := conditionTerm.FindStringSubmatch(term)
	if m == nil {
		return "", fmt.Errorf("%w: row_condition term %q is not col(\"name\") OP value", ErrInvalidKwargs, term)
	}
	col, err := e.Col(m[1])
	if err != nil {
		return "", err
	}
	op := m[2]
	if op == "==" {
		op = "="
	}
	if op == "!=" {
		op = "<>"
	}
	lit := m[3]
	var val any
	if len(lit) >= 2 && (lit[0] == '"' || lit[0] == '\'') && lit[len(lit)-1] == lit[0] {
		val = lit[1 : len(lit)-1]
	} else {
		n := json.Number(lit)
		if _, err := n.Float64(); err != nil {
			return "", fmt.Errorf("%w: row_condition value %q is neither a number nor a quoted string", ErrInvalidKwargs, lit)
		}
		val = n
	}
	return col + " " + op + " " + e.Bind(val), nil
}
