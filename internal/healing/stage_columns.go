package healing

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/shp-dev/shp/internal/schema"
)

// renameColumn proposes reading a new file column as a schema column the
// file no longer has. Among several columns gone and several new, pairs
// are scored by how alike their names are and by how many of the new
// column's values the old column holds in the target; a one-for-one swap
// of columns whose types fit is a suspect whatever its score. A rename
// changes meaning: it always waits for a person.
type renameColumn struct{}

func (renameColumn) Name() string { return "rename_column" }

// renamePair is a suspected rename of schema column to into file column
// from.
type renamePair struct {
	from, to       string
	names, overlap float64 // name similarity and value overlap, 0 to 1
	score          float64
	oneForOne      bool
	scored         bool // the target had values to compare with
}

// renameScore is the score a pair needs among several candidates.
const renameScore = 0.5

// renamePairs finds the suspected renames of the staged object, best
// first, each file and schema column in at most one pair. It is worked
// out once per env.
func (e *StageEnv) renamePairs(ctx context.Context) ([]renamePair, error) {
	if e.renames != nil {
		return *e.renames, nil
	}
	var missing []string
	for _, m := range e.Staged.Missing {
		if !renamedTo(e.Spec.Rename, m) {
			missing = append(missing, m)
		}
	}
	var extras []schema.Field
	for _, x := range e.Staged.Extra {
		if _, done := e.Spec.Rename[x.Name]; !done {
			extras = append(extras, x)
		}
	}
	var cands []renamePair
	oneForOne := len(missing) == 1 && len(extras) == 1
	for _, m := range missing {
		for _, x := range extras {
			if e.declined("rename_column", renameSubject(x.Name, m)) || !typesFit(x.Type, e.declaredType(m)) {
				continue
			}
			p := renamePair{from: x.Name, to: m, names: nameSimilarity(x.Name, m), oneForOne: oneForOne}
			if e.Inspect != nil {
				ov, err := e.Inspect.Overlap(ctx, e.Spec, x.Name, m)
				if err != nil {
					return nil, fmt.Errorf("compare column %s with %s: %w", x.Name, m, err)
				}
				p.overlap, p.scored = max(ov, 0), ov >= 0
			}
			p.score = max(p.names, p.overlap)
			// Without values to compare (a first load), any column whose
			// type fits may be the renamed one: a person says which.
			if p.oneForOne || p.score >= renameScore || !p.scored {
				cands = append(cands, p)
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var out []renamePair
	used := map[string]bool{}
	for _, c := range cands {
		if used["f\x00"+c.from] || used["t\x00"+c.to] {
			continue
		}
		used["f\x00"+c.from], used["t\x00"+c.to] = true, true
		out = append(out, c)
	}
	e.renames = &out
	return out, nil
}

// renamedTo reports whether a repair already reads some file column as
// the schema column name.
func renamedTo(rename map[string]string, name string) bool {
	for _, to := range rename {
		if strings.EqualFold(to, name) {
			return true
		}
	}
	return false
}

func renamedFrom(pairs []renamePair, file string) bool {
	for _, p := range pairs {
		if p.from == file {
			return true
		}
	}
	return false
}

func renamedAs(pairs []renamePair, col string) bool {
	for _, p := range pairs {
		if strings.EqualFold(p.to, col) {
			return true
		}
	}
	return false
}

// declaredType is the BigQuery type of a schema column ("" when unknown).
func (e *StageEnv) declaredType(name string) string {
	if f, ok := e.Spec.Schema.Lookup(name); ok {
		return strings.ToUpper(f.Type)
	}
	return ""
}

// typesFit reports whether a file column of type file (what its values
// look like) can be read as a schema column of type declared.
func typesFit(file, declared string) bool {
	family := func(t string) string {
		switch strings.ToUpper(t) {
		case "INT64", "INTEGER", "NUMERIC", "BIGNUMERIC", "FLOAT64", "FLOAT":
			return "number"
		case "DATE", "DATETIME", "TIMESTAMP", "TIME":
			return "time"
		case "BOOL", "BOOLEAN":
			return "bool"
		case "", "STRING", "JSON", "BYTES":
			return ""
		}
		return strings.ToUpper(t)
	}
	f, d := family(file), family(declared)
	return f == "" || d == "" || f == d || (f == "number" && d == "bool")
}

// renameSubject is what a decision on a suspected rename is about: the
// schema column and the file column read as it.
func renameSubject(from, to string) string { return "column " + to + " from " + from }

func (renameColumn) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	pairs, err := env.renamePairs(ctx)
	if err != nil || len(pairs) == 0 {
		return nil, err
	}
	p := pairs[0]
	spec := env.Spec.Clone()
	spec.Rename[p.from] = p.to
	why := "the only column gone and the only one new"
	if !p.oneForOne || p.score > 0 {
		why = fmt.Sprintf("names %.0f%% alike", 100*p.names)
		if p.scored {
			why += fmt.Sprintf(", %.0f%% of its values are in the target's %s", 100*p.overlap, p.to)
		} else {
			why += "; the target has no values to compare with"
		}
	}
	return &StagePlan{
		Category: DriftRenamed, Subject: renameSubject(p.from, p.to),
		Issue:       Issue{Kind: "drift", Text: fmt.Sprintf("column %q failed to appear in %s, which has a new column %q instead", p.to, env.Spec.ObjectKey, p.from)},
		Description: fmt.Sprintf("read the file's column %q as %q (a suspected rename: %s)", p.from, p.to, why),
		Confidence:  0.6, Approval: true, Spec: spec, Rows: env.Staged.Loaded + env.Staged.Quarantined,
		Params: map[string]any{"from": p.from, "to": p.to, "name_similarity": p.names, "value_overlap": p.overlap},
	}, nil
}

// nameSimilarity scores how alike two column names are, 0 to 1: the same
// words in another case or separator score 1, an abbreviation
// (cust_id, customer_id) 0.8, otherwise the edit distance of the
// normalised names or the share of words they have in common.
func nameSimilarity(a, b string) float64 {
	na, nb := normName(a), normName(b)
	if na == "" || nb == "" {
		return 0
	}
	if na == nb {
		return 1
	}
	best := 1 - float64(levenshtein(na, nb))/float64(max(len(na), len(nb)))
	ta, tb := words(a), words(b)
	common := 0
	for w := range ta {
		if tb[w] {
			common++
		}
	}
	if union := len(ta) + len(tb) - common; union > 0 {
		best = max(best, float64(common)/float64(union))
	}
	short, long := na, nb
	if len(short) > len(long) {
		short, long = long, short
	}
	if len(short) >= 2 && short[0] == long[0] && isSubsequence(short, long) {
		best = max(best, 0.8)
	}
	return best
}

func normName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// words splits a name at separators and case changes.
func words(s string) map[string]bool {
	out := map[string]bool{}
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out[strings.ToLower(string(cur))] = true
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r)
	}
	flush()
	return out
}

func isSubsequence(short, long string) bool {
	i := 0
	for j := 0; j < len(long) && i < len(short); j++ {
		if long[j] == short[i] {
			i++
		}
	}
	return i == len(short)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// reportRemovedColumn handles schema columns a file no longer has (and
// that are no suspected rename). Their rows would load NULL there (a
// merge keeps the target's values for the rows it replaces). When the
// column had values in recent batches, loading NULLs changes what the
// data says: the commit is held until a person approves the removal,
// unless the policy allows removals (hold_removed_columns: false). A
// column that never had values is only reported, and so is a column a
// full refresh finds missing from an older object (one the target gained
// later, and not declared, is not even reported).
type reportRemovedColumn struct{}

func (reportRemovedColumn) Name() string { return "report_removed_column" }

func (reportRemovedColumn) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	pairs, err := env.renamePairs(ctx)
	if err != nil {
		return nil, err
	}
	var gone, filled []string
	for _, m := range env.Staged.Missing {
		if renamedAs(pairs, m) || renamedTo(env.Spec.Rename, m) {
			continue
		}
		if _, declared := env.Spec.Schema.Lookup(m); env.Replay && !declared {
			continue // an older object, from before the target gained the column
		}
		gone = append(gone, m)
		if env.RecentlyFilled != nil {
			n, err := env.RecentlyFilled(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("history of column %s: %w", m, err)
			}
			if n > 0 {
				filled = append(filled, m)
			}
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	cols := strings.Join(gone, ", ")
	plan := &StagePlan{
		Category: DriftRemoved, Subject: "columns " + cols,
		Issue: Issue{Kind: "drift", Text: fmt.Sprintf("columns %s failed to appear in %s", cols, env.Spec.ObjectKey)},
		Rows:  env.Staged.Loaded + env.Staged.Quarantined, Params: map[string]any{"columns": gone},
	}
	if len(filled) > 0 && env.HoldRemoved && !env.Replay {
		plan.Approval, plan.Accept, plan.Confidence = true, true, 0.99
		plan.Description = fmt.Sprintf("load %s without columns %s, which had values in recent batches: new rows read NULL there, "+
			"a merge keeps the target's values of the rows it replaces", env.Spec.ObjectKey, strings.Join(filled, ", "))
		return plan, nil
	}
	plan.Escalate = fmt.Sprintf("the file has no column %s: its rows load with NULL there (a merge keeps the target's values of the rows it replaces); "+
		"restore the column at the source or drop it from the schema", cols)
	return plan, nil
}

// readNullTokens reads the texts that spreadsheets and data frames write
// for "no value" (NA, N/A, NULL, None, #N/A, -, ...) as NULL in a typed
// column that may hold NULL, when its rejected values include them. The
// other rejected values stay for the other strategies.
type readNullTokens struct{}

func (readNullTokens) Name() string { return "read_null_tokens" }

// nullTokenSet are the texts read as "no value", lower case.
var nullTokenSet = map[string]bool{
	"na": true, "n/a": true, "n.a.": true, "null": true, "(null)": true, "none": true, "nil": true, "nan": true,
	"#n/a": true, "#null!": true, "-": true, "--": true,
}

func (readNullTokens) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	cols, err := castColumns(ctx, env, func(typ string) bool { return typ != "VARCHAR" && typ != "" })
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if p := env.Spec.Parse[c.Column]; len(p.NullTokens) > 0 {
			continue // read once already
		}
		if f, ok := env.Spec.Schema.Lookup(c.Column); ok && f.Required() || containsFold(env.Spec.Key, c.Column) || containsFold(env.Spec.Relax, c.Column) {
			continue // NULL is no value such a column may hold
		}
		var tokens, others []string
		for _, v := range c.Values {
			if nullTokenSet[strings.ToLower(strings.TrimSpace(v))] {
				tokens = append(tokens, v)
			} else {
				others = append(others, v)
			}
		}
		if len(tokens) == 0 {
			continue
		}
		spec := env.Spec.Clone()
		p := spec.Parse[c.Column]
		p.NullTokens = tokens
		spec.Parse[c.Column] = p
		plan := &StagePlan{
			Category: ValueDrift, Subject: "column " + c.Column, Issue: castIssue(c.Column, c.Type, env.Spec.ObjectKey, c.Rows, c.Values),
			Description: fmt.Sprintf("read %s in column %s as NULL (no value)", quoteList(tokens), c.Column),
			Confidence:  0.95, Spec: spec, Rows: c.Rows, Before: firstN(tokens, 5),
			Params: map[string]any{"column": c.Column, "parse": p},
		}
		if len(others) > 0 {
			plan.Confidence = 0.9
			plan.Description += fmt.Sprintf("; %d other value(s) such as %q stay set aside", len(others), others[0])
		}
		return plan, nil
	}
	return nil, nil
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}
