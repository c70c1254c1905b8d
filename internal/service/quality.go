package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
)

// RuleView is one quality rule of a pipeline.
type RuleView struct {
	// ID is the stored rule's id; 0 for a rule of quality_rules.yaml.
	ID int64 `json:"id"`
	// Origin is "config" (quality_rules.yaml or a suite it names) or
	// "stored" (added through the API or the CLI).
	Origin      string         `json:"origin"`
	Name        string         `json:"name"`
	Expectation string         `json:"expectation"`
	Kwargs      map[string]any `json:"kwargs"`
	Severity    string         `json:"severity"`
	Action      string         `json:"action"`
	Meta        map[string]any `json:"meta,omitempty"`
	CreatedBy   string         `json:"created_by,omitempty"`
	CreatedAt   *time.Time     `json:"created_at,omitempty"`
}

func ruleView(c quality.Config, origin string) RuleView {
	kw := c.Kwargs
	if kw == nil {
		kw = map[string]any{}
	}
	return RuleView{Origin: origin, Name: c.RuleName(), Expectation: c.Type, Kwargs: kw, Severity: c.Severity, Action: c.Action, Meta: c.Meta}
}

// Rules lists a pipeline's rules: those of quality_rules.yaml, then the
// stored ones.
func (s *Service) Rules(ctx context.Context, pipeline string) ([]RuleView, error) {
	if _, err := s.pipeline(pipeline); err != nil {
		return nil, err
	}
	return s.rulesOf(ctx, pipeline)
}

// configRules are quality_rules.yaml's rules (and the suites it names),
// read and checked once (their min_value and max_value against the
// declared schemas' types): the configuration is fixed for the process's
// life.
func (s *Service) configRules() (quality.Rules, error) {
	s.rulesOnce.Do(func() {
		columns := func(pipeline string) ([]quality.Column, error) {
			p, ok := s.Project.Pipeline(pipeline)
			if !ok {
				return nil, nil
			}
			return s.declaredColumns(p.Source)
		}
		// The errors name quality_rules.yaml.
		s.rules, s.rulesErr = quality.ParseRulesFor(s.Project.QualityRules, s.Project.Dir, columns)
	})
	return s.rules, s.rulesErr
}

// CheckConfigRules reads quality_rules.yaml and checks its rules and the
// suites it names as a stored rule is checked (quality.ParseRulesFor),
// min_value and max_value against the declared schemas' types.
func (s *Service) CheckConfigRules() error {
	_, err := s.configRules()
	return err
}

// rulesOf lists a configured pipeline's rules: quality_rules.yaml's, then
// the stored ones.
func (s *Service) rulesOf(ctx context.Context, pipeline string) ([]RuleView, error) {
	rules, err := s.configRules()
	if err != nil {
		return nil, err
	}
	out := []RuleView{}
	if suite := rules[pipeline]; suite != nil {
		for _, c := range suite.Expectations {
			out = append(out, ruleView(c, "config"))
		}
	}
	stored, err := s.storedRules(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	return append(out, stored...), nil
}

// ruleCache keeps each pipeline's stored rules as parsed, with the
// version of the rules they were parsed from: a stored rule may hold a
// value set of a million values, which a request must not parse again.
type ruleCache struct {
	mu     sync.Mutex
	byPipe map[string]cachedRules
	parses atomic.Int64 // stored rules parsed, all pipelines
}

type cachedRules struct {
	version metadata.RulesVersion
	views   []RuleView
}

func (c *ruleCache) get(pipeline string, v metadata.RulesVersion) ([]RuleView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byPipe[pipeline]
	return e.views, ok && e.version == v
}

func (c *ruleCache) put(pipeline string, v metadata.RulesVersion, views []RuleView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byPipe == nil {
		c.byPipe = map[string]cachedRules{}
	}
	c.byPipe[pipeline] = cachedRules{version: v, views: views}
}

// StoredRuleParses counts the stored rules this service has parsed: each
// pipeline's are parsed when they are first read and again only after
// they change (a rule is added), never per request.
func (s *Service) StoredRuleParses() int64 { return s.ruleCache.parses.Load() }

// storedRules are a pipeline's stored rules, parsed once per change of
// them. A store that tells their version (metadata.RulesVersioner) is
// asked for it first, and the rules are read only when it changed. The
// views are shared between callers, who must not change them.
func (s *Service) storedRules(ctx context.Context, pipeline string) ([]RuleView, error) {
	if vs, ok := s.Store.(metadata.RulesVersioner); ok {
		v, err := vs.QualityRulesVersion(ctx, pipeline)
		if err != nil {
			return nil, err
		}
		if views, ok := s.ruleCache.get(pipeline, v); ok {
			return views, nil
		}
	}
	stored, err := s.Store.ListQualityRules(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	v := metadata.VersionOf(stored)
	if views, ok := s.ruleCache.get(pipeline, v); ok {
		return views, nil
	}
	views := make([]RuleView, 0, len(stored))
	for _, sr := range stored {
		c, err := quality.ParseStoredRule(sr.Rule)
		s.ruleCache.parses.Add(1)
		if err != nil {
			return nil, fmt.Errorf("stored rule #%d: %w", sr.ID, err)
		}
		rv := ruleView(c, "stored")
		rv.ID, rv.CreatedBy, rv.CreatedAt = sr.ID, sr.CreatedBy, timePtr(sr.CreatedAt)
		views = append(views, rv)
	}
	s.ruleCache.put(pipeline, v, views)
	return views, nil
}

// RulesFromSuite turns a Great Expectations suite into rules to add.
func RulesFromSuite(suite *quality.Suite) []NewRule {
	var out []NewRule
	for _, c := range suite.Expectations {
		out = append(out, NewRule{Expectation: c.Type, Kwargs: c.Kwargs, Severity: c.Severity, Action: c.Action, Meta: c.Meta})
	}
	return out
}

// NewRule is a rule to add: the keys of a quality_rules.yaml rule.
type NewRule struct {
	Expectation string         `json:"expectation"`
	Kwargs      map[string]any `json:"kwargs"`
	Severity    string         `json:"severity,omitempty"`
	Action      string         `json:"action,omitempty"`
	Name        string         `json:"name,omitempty"`
	Meta        map[string]any `json:"meta,omitempty"`
	Default     any            `json:"default,omitempty"`
}

// AddRules checks rules for a pipeline (their kwargs, and the columns
// they name against the pipeline's declared schema when it has one) and
// stores them all, or none. by is who adds them.
func (s *Service) AddRules(ctx context.Context, pipeline string, rules []NewRule, by string) ([]RuleView, error) {
	p, err := s.pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, invalid("rules", "at least one rule is needed")
	}
	cols, err := s.declaredColumns(p.Source)
	if err != nil {
		return nil, err
	}
	bodies := make([]string, len(rules))
	configs := make([]quality.Config, len(rules))
	for i, r := range rules {
		field := "rules[" + fmt.Sprint(i) + "]"
		if len(rules) == 1 {
			field = "rule"
		}
		m := map[string]any{"expectation": r.Expectation, "kwargs": r.Kwargs}
		for k, v := range map[string]string{"severity": r.Severity, "action": r.Action, "name": r.Name} {
			if v != "" {
				m[k] = v
			}
		}
		if r.Meta != nil {
			m["meta"] = r.Meta
		}
		if r.Default != nil {
			m["default"] = r.Default
		}
		c, err := quality.ParseRule(m)
		if err != nil {
			return nil, invalid(field, "%v", err)
		}
		if sqlRules[c.Type] {
			return nil, invalid(field+".expectation", "%s runs the SQL it is given: it belongs in quality_rules.yaml, which only the project's owners edit", c.Type)
		}
		if err := quality.CheckRule(c, cols); err != nil {
			at := field + ".kwargs"
			var ke *quality.KwargError
			if errors.As(err, &ke) {
				at += "." + ke.Kwarg
			}
			return nil, invalid(at, "%v", err)
		}
		// The parsed kwargs: their NaN and infinities marshal.
		m["kwargs"] = c.Kwargs
		b, err := json.Marshal(m)
		if err != nil {
			return nil, invalid(field, "cannot be stored as JSON: %v", err)
		}
		bodies[i], configs[i] = string(b), c
	}
	now := s.now()
	stored := make([]metadata.StoredRule, len(bodies))
	for i, b := range bodies {
		stored[i] = metadata.StoredRule{Pipeline: pipeline, Rule: b, CreatedBy: by, CreatedAt: now}
	}
	ids, err := s.Store.AddQualityRules(ctx, stored)
	if err != nil {
		return nil, err
	}
	out := make([]RuleView, len(configs))
	for i, c := range configs {
		out[i] = ruleView(c, "stored")
		out[i].ID, out[i].CreatedBy, out[i].CreatedAt = ids[i], by, timePtr(now)
	}
	return out, nil
}

// sqlRules run SQL their kwargs give: stored rules may not be of these.
var sqlRules = map[string]bool{"expect_rows_to_satisfy_sql": true, "unexpected_rows_expectation": true}

// declaredColumns are the columns of a source's declared schema; nil
// when it declares none (rules are then checked without columns).
func (s *Service) declaredColumns(source string) ([]quality.Column, error) {
	src, ok := s.Project.Source(source)
	if !ok || src.Schema == "" {
		return nil, nil
	}
	sch, err := schema.Load(src.SchemaPath())
	if err != nil {
		return nil, err
	}
	cols := make([]quality.Column, len(sch))
	for i, f := range sch {
		cols[i] = quality.Column{Name: f.Name, Type: f.Type}
	}
	return cols, nil
}

// Validation is one object's validation result, in Great Expectations'
// layout (success, statistics, results).
type Validation struct {
	RunID        string          `json:"run_id"`
	Pipeline     string          `json:"pipeline"`
	Object       string          `json:"object"`
	ValidatedAt  *time.Time      `json:"validated_at"`
	QualityScore float64         `json:"quality_score"`
	Result       json.RawMessage `json:"result"`
}

// ValidationQuery selects validation results.
type ValidationQuery struct {
	Pipeline, RunID string
	Since, Until    time.Time
	PageRequest
}

// Validations lists stored validation results, newest run first, one
// page at a time. A page token names the run the next page starts in and
// how many of its results were shown, so runs that start between two
// pages shift nothing; runs are read a page's worth at a time.
func (s *Service) Validations(ctx context.Context, q ValidationQuery) (Page[Validation], error) {
	size, err := q.size()
	if err != nil {
		return Page[Validation]{}, err
	}
	cur, shown, err := q.validationCursor()
	if err != nil {
		return Page[Validation]{}, err
	}
	page := Page[Validation]{Items: []Validation{}}
	// add appends a run's results after the first skip; it reports
	// whether the page is full, and then sets the token.
	add := func(r metadata.Run, skip int) (bool, error) {
		vs, err := s.validationsOf(ctx, r)
		if err != nil {
			return false, err
		}
		for i := skip; i < len(vs); i++ {
			if len(page.Items) == size {
				page.NextPageToken = validationToken(metadata.RunCursor{StartedAt: r.StartedAt, ID: r.ID}, i)
				return true, nil
			}
			page.Items = append(page.Items, vs[i])
		}
		return false, nil
	}
	if q.RunID != "" {
		r, err := s.Store.GetRun(ctx, q.RunID)
		if err != nil {
			return Page[Validation]{}, notFound(err)
		}
		_, err = add(r, shown)
		return page, err
	}
	if q.Pipeline != "" {
		if _, err := s.pipeline(q.Pipeline); err != nil {
			return Page[Validation]{}, err
		}
	}
	if cur != nil {
		// The rest of the run the last page ended in.
		r, err := s.Store.GetRun(ctx, cur.ID)
		if err != nil {
			return Page[Validation]{}, notFound(err)
		}
		if full, err := add(r, shown); full || err != nil {
			return page, err
		}
	}
	for {
		runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: q.Pipeline, Since: q.Since, Until: q.Until, After: cur, Limit: size})
		if err != nil {
			return page, err
		}
		for _, r := range runs {
			if full, err := add(r, 0); full || err != nil {
				return page, err
			}
		}
		if len(runs) < size {
			return page, nil
		}
		last := runs[len(runs)-1]
		cur = &metadata.RunCursor{StartedAt: last.StartedAt, ID: last.ID}
	}
}

// validationToken encodes where a validations page starts: in the run at
// c, after shown of its results.
func validationToken(c metadata.RunCursor, shown int) string {
	return encodeToken("validations", strconv.Itoa(shown)+":"+cursorText(c))
}

// validationCursor decodes a validations token: the run the page starts
// in and how many of its results were shown; nil for the first page.
func (p PageRequest) validationCursor() (*metadata.RunCursor, int, error) {
	body, err := p.decodeToken("validations")
	if err != nil || body == "" {
		return nil, 0, err
	}
	n, run, _ := strings.Cut(body, ":")
	shown, err := strconv.Atoi(n)
	if c, ok := parseCursor(run); ok && err == nil && shown >= 0 {
		return c, shown, nil
	}
	return nil, 0, invalid("page_token", "is not a token of this listing")
}

// validationsOf reads a run's validation results from its load tasks.
func (s *Service) validationsOf(ctx context.Context, r metadata.Run) ([]Validation, error) {
	tasks, err := s.Store.ListTasks(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	var out []Validation
	for _, t := range tasks {
		obj, ok := strings.CutPrefix(t.Task, "load ")
		if !ok || t.Detail == "" {
			continue
		}
		var d struct {
			Score      float64         `json:"quality_score"`
			Validation json.RawMessage `json:"validation"`
		}
		if json.Unmarshal([]byte(t.Detail), &d) != nil || len(d.Validation) == 0 {
			continue
		}
		out = append(out, Validation{RunID: r.ID, Pipeline: r.Pipeline, Object: obj, ValidatedAt: timePtr(t.EndedAt),
			QualityScore: d.Score, Result: d.Validation})
	}
	return out, nil
}

// QualityMetrics are a pipeline's quality over time: the score of each
// run and the pass rate of each rule.
type QualityMetrics struct {
	Pipeline string        `json:"pipeline,omitempty"`
	Since    *time.Time    `json:"since"`
	Until    *time.Time    `json:"until"`
	Scores   []ScorePoint  `json:"scores"`
	Rules    []RulePasses  `json:"rules"`
	Summary  MetricSummary `json:"summary"`
}

// ScorePoint is one run's quality score.
type ScorePoint struct {
	RunID    string     `json:"run_id"`
	Pipeline string     `json:"pipeline"`
	At       *time.Time `json:"at"`
	Score    float64    `json:"score"`
}

// RulePasses is how often one rule held: in all, and run by run.
type RulePasses struct {
	Pipeline    string      `json:"pipeline"`
	Rule        string      `json:"rule"`
	Expectation string      `json:"expectation"`
	Evaluated   int         `json:"evaluated"`
	Passed      int         `json:"passed"`
	PassRate    float64     `json:"pass_rate"`
	Runs        []RulePoint `json:"runs"`
}

// RulePoint is one run's results of a rule (one per object it loaded).
type RulePoint struct {
	RunID     string     `json:"run_id"`
	At        *time.Time `json:"at"`
	Evaluated int        `json:"evaluated"`
	Passed    int        `json:"passed"`
}

// MetricSummary sums the scores up.
type MetricSummary struct {
	Runs      int      `json:"runs"`
	MeanScore *float64 `json:"mean_score"`
	LastScore *float64 `json:"last_score"`
}

// QualityMetrics reports scores and rule pass rates of the runs that
// started in [since, until) (either may be zero), of one pipeline or all.
func (s *Service) QualityMetrics(ctx context.Context, pipeline string, since, until time.Time) (QualityMetrics, error) {
	if pipeline != "" {
		if _, err := s.pipeline(pipeline); err != nil {
			return QualityMetrics{}, err
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return QualityMetrics{}, invalid("since", "must be before until")
	}
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: pipeline, Since: since, Until: until})
	if err != nil {
		return QualityMetrics{}, err
	}
	m := QualityMetrics{Pipeline: pipeline, Since: timePtr(since), Until: timePtr(until), Scores: []ScorePoint{}, Rules: []RulePasses{}}
	type key struct{ pipeline, rule string }
	passes := map[key]*RulePasses{}
	var sum float64
	// Oldest first, for a time series.
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if score, ok := r.Metrics["quality_score"]; ok {
			m.Scores = append(m.Scores, ScorePoint{RunID: r.ID, Pipeline: r.Pipeline, At: timePtr(r.StartedAt), Score: score})
			sum += score
			last := score
			m.Summary.LastScore = &last
		}
		vs, err := s.validationsOf(ctx, r)
		if err != nil {
			return m, err
		}
		for _, v := range vs {
			var res quality.Result
			if json.Unmarshal(v.Result, &res) != nil {
				continue
			}
			for _, er := range res.Results {
				name := er.Config.Type
				if c, ok := er.Config.Kwargs["column"].(string); ok {
					name += "(" + c + ")"
				}
				k := key{r.Pipeline, name}
				rp := passes[k]
				if rp == nil {
					rp = &RulePasses{Pipeline: r.Pipeline, Rule: name, Expectation: er.Config.Type}
					passes[k] = rp
				}
				if n := len(rp.Runs); n == 0 || rp.Runs[n-1].RunID != r.ID {
					rp.Runs = append(rp.Runs, RulePoint{RunID: r.ID, At: timePtr(r.StartedAt)})
				}
				point := &rp.Runs[len(rp.Runs)-1]
				rp.Evaluated++
				point.Evaluated++
				if er.Success {
					rp.Passed++
					point.Passed++
				}
			}
		}
	}
	m.Summary.Runs = len(m.Scores)
	if len(m.Scores) > 0 {
		mean := sum / float64(len(m.Scores))
		m.Summary.MeanScore = &mean
	}
	for _, p := range passes {
		p.PassRate = float64(p.Passed) / float64(p.Evaluated)
		m.Rules = append(m.Rules, *p)
	}
	sort.Slice(m.Rules, func(i, j int) bool {
		if m.Rules[i].Pipeline != m.Rules[j].Pipeline {
			return m.Rules[i].Pipeline < m.Rules[j].Pipeline
		}
		return m.Rules[i].Rule < m.Rules[j].Rule
	})
	return m, nil
}
