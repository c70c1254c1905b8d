package quality

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ResultFormat is GE's result_format: how much detail a result carries.
type ResultFormat string

// The result formats, from least to most detail.
const (
	BooleanOnly ResultFormat = "BOOLEAN_ONLY"
	Basic       ResultFormat = "BASIC"
	Summary     ResultFormat = "SUMMARY"
	Complete    ResultFormat = "COMPLETE"
)

// ParseResultFormat accepts a result format name, case-insensitively.
func ParseResultFormat(s string) (ResultFormat, error) {
	f := ResultFormat(strings.ToUpper(s))
	switch f {
	case BooleanOnly, Basic, Summary, Complete:
		return f, nil
	}
	return "", fmt.Errorf("unknown result format %q (want BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE)", s)
}

// partialLimit is GE's default partial_unexpected_count.
const partialLimit = 20

// bindToken marks a bound value in SQL text until it is rendered; it
// cannot occur in identifiers or literals shp writes.
const bindToken = "\x00"

// render replaces bind tokens with the dialect's placeholders, in text
// order, and returns the matching arguments.
func (e *Env) render(sqlText string) (string, []any) {
	var b strings.Builder
	var args []any
	for {
		i := strings.Index(sqlText, bindToken)
		if i < 0 {
			b.WriteString(sqlText)
			return b.String(), args
		}
		j := strings.Index(sqlText[i+1:], bindToken)
		n, _ := strconv.Atoi(sqlText[i+1 : i+1+j])
		b.WriteString(sqlText[:i])
		args = append(args, e.args[n])
		b.WriteString(e.D.Placeholder(len(args)))
		sqlText = sqlText[i+1+j+1:]
	}
}

// Query runs an expectation's own query, rendering its bound values.
func (e *Env) Query(ctx context.Context, q Queryer, sqlText string) ([][]any, error) {
	text, args := e.render(sqlText)
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			vals[i] = jsonValue(v)
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

type compiled struct {
	cfg  Config
	env  *Env
	plan *Plan
	err  error
	vals []any
}

// Validate runs a suite against a table and returns GE's validation
// result. An expectation that is misconfigured or fails to run gets
// exception_info; only a failure of the shared scan's connection is an
// error.
func Validate(ctx context.Context, q Queryer, d Dialect, t Table, suite *Suite, format ResultFormat) (*Result, error) {
	if format == "" {
		format = Basic
	}
	items := make([]*compiled, len(suite.Expectations))
	for i, cfg := range suite.Expectations {
		c := &compiled{cfg: cfg, env: &Env{D: d, T: t, Format: format}}
		items[i] = c
		f, ok := lookupFactory(cfg.Type)
		if !ok {
			c.err = fmt.Errorf("%w: unknown expectation type %q", ErrInvalidKwargs, cfg.Type)
			continue
		}
		kw, err := resolveParams(Kwargs(cfg.Kwargs), time.Now(), suite.Params)
		if err != nil {
			c.err = err
			continue
		}
		if rf, ok := kw["result_format"]; ok {
			if s, ok := rf.(string); ok {
				if f, err := ParseResultFormat(s); err == nil {
					c.env.Format = f
				}
			} else if m, ok := rf.(map[string]any); ok {
				if s, ok := m["result_format"].(string); ok {
					if f, err := ParseResultFormat(s); err == nil {
						c.env.Format = f
					}
				}
			}
		}
		if c.err = c.env.parseCondition(kw); c.err != nil {
			continue
		}
		c.plan, c.err = f(c.env, kw)
	}
	if err := scan(ctx, q, items); err != nil {
		return nil, err
	}
	res := &Result{Success: true, Meta: map[string]any{"expectation_suite_name": suite.Name}}
	for _, c := range items {
		er := ExpectationResult{Config: configJSON(c.cfg)}
		var out Outcome
		if c.err == nil {
			out, c.err = c.plan.Evaluate(ctx, q, c.vals)
		}
		if c.err != nil {
			er.Exception = ExceptionInfo{Raised: true, Message: c.err.Error()}
			er.Result = map[string]any{}
		} else {
			er.Success = out.Success
			er.Result = trimResult(out.Result, c.env.Format)
			if c.plan.Unexpected != "" {
				pred := c.plan.Unexpected
				if c.env.cond != "" {
					pred = "(" + c.env.cond + ") AND (" + pred + ")"
				}
				er.rowFilter, er.rowArgs = c.env.render(pred)
			}
		}
		res.add(er)
	}
	return res, nil
}

// scan computes every plan's aggregates in one SELECT. When it fails, each
// plan is tried alone so that the failure lands on the expectation that
// caused it.
func scan(ctx context.Context, q Queryer, items []*compiled) error {
	var batch []*compiled
	for _, c := range items {
		if c.err == nil && len(c.plan.Aggregates) > 0 {
			batch = append(batch, c)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := scanBatch(ctx, q, batch); err == nil {
		return nil
	} else if ctx.Err() != nil {
		return err
	}
	for _, c := range batch {
		if err := scanBatch(ctx, q, []*compiled{c}); err != nil {
			if ctx.Err() != nil {
				return err
			}
			c.err = err
		}
	}
	return nil
}

func scanBatch(ctx context.Context, q Queryer, batch []*compiled) error {
	// All plans share one Env for rendering: collect their tokens into a
	// combined argument list by rendering each expression with its own Env.
	// Identical aggregates (count(*), a column's null count, the same
	// check with the same values) are computed once.
	var exprs []string
	var args []any
	d := batch[0].env.D
	seen := map[string]int{}
	slots := make([][]int, len(batch))
	for bi, c := range batch {
		for _, a := range c.plan.Aggregates {
			if c.env.cond != "" {
				a = filterAggregate(d, a, c.env.cond)
			}
			text, as := c.env.render(a)
			key := text + "\x00" + argsKey(as)
			if i, ok := seen[key]; ok {
				slots[bi] = append(slots[bi], i)
				continue
			}
			seen[key] = len(exprs)
			slots[bi] = append(slots[bi], len(exprs))
			exprs = append(exprs, renumber(text, d, len(args)))
			args = append(args, as...)
		}
	}
	stmt := "SELECT " + strings.Join(exprs, ", ") + " FROM " + d.Ident(batch[0].env.T.Name)
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("aggregate scan returned no row")
	}
	if err := rows.Scan(ptrs...); err != nil {
		return err
	}
	for bi, c := range batch {
		c.vals = make([]any, len(c.plan.Aggregates))
		for j, i := range slots[bi] {
			c.vals[j] = jsonValue(vals[i])
		}
	}
	return rows.Err()
}

// argsKey identifies bound values, for telling identical aggregates
// apart: a text (a large value set's list is one) is written as it is,
// which costs far less than formatting it.
func argsKey(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if s, ok := a.(string); ok {
			fmt.Fprintf(&b, "s%d:", len(s))
			b.WriteString(s)
			continue
		}
		fmt.Fprintf(&b, "%#v;", a)
	}
	return b.String()
}

// renumber shifts numbered placeholders ($1, $2, ...) of one expression by
// offset, for dialects that number them; "?" needs nothing.
func renumber(text string, d Dialect, offset int) string {
	if d.Placeholder(1) == "?" || offset == 0 {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '$' {
			j := i + 1
			for j < len(text) && text[j] >= '0' && text[j] <= '9' {
				j++
			}
			if j > i+1 {
				n, _ := strconv.Atoi(text[i+1 : j])
				b.WriteString(d.Placeholder(n + offset))
				i = j - 1
				continue
			}
		}
		b.WriteByte(text[i])
	}
	return b.String()
}
