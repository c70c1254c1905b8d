// Package optimize is shp's optimisation layer: it reads the queries run
// against the warehouse (shp's own and its users'), sums up how each
// table is read (which columns are filtered by range or by equality,
// grouped, joined, scanned whole), and runs rules over that workload,
// one file each behind Rule, each recommending a change to a table's
// layout with its evidence, expected benefit and risk.
package optimize

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a token of SQL.
type tokenKind int

const (
	tokIdent  tokenKind = iota // a name or a keyword, unquoted
	tokQuoted                  // a "quoted" or `quoted` name
	tokString                  // a 'string' literal
	tokNumber                  // a numeric literal
	tokParam                   // ? or $1
	tokOp                      // an operator: = <> != < <= > >= :: || + - * / %
	tokPunct                   // ( ) , . ;
)

type token struct {
	kind tokenKind
	text string // as written (a quoted name without its quotes)
	// pos and end are its bytes in the query: sql[pos:end].
	pos, end int
}

// upper is the token's text in upper case, for keywords.
func (t token) upper() string { return strings.ToUpper(t.text) }

// name is an identifier token's name as the engines fold it: unquoted
// names in lower case, quoted ones as written.
func (t token) name() string {
	if t.kind == tokQuoted {
		return t.text
	}
	return strings.ToLower(t.text)
}

func (t token) isIdent() bool { return t.kind == tokIdent || t.kind == tokQuoted }

// tokenize splits SQL into tokens, dropping comments and white space. It
// never fails: what it does not know becomes an operator token.
func tokenize(sql string) []token {
	var out []token
	for i := 0; i < len(sql); {
		start, n := i, len(out)
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 4
			}
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(sql) {
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			out = append(out, token{kind: tokString, text: b.String()})
			i = j + 1
		case c == '"' || c == '`':
			j := i + 1
			var b strings.Builder
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			out = append(out, token{kind: tokQuoted, text: b.String()})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' || sql[j] == '_' ||
				(sql[j] == '+' || sql[j] == '-') && j > i && (sql[j-1] == 'e' || sql[j-1] == 'E')) {
				j++
			}
			out = append(out, token{kind: tokNumber, text: sql[i:j]})
			i = j
		case c == '?':
			out = append(out, token{kind: tokParam, text: "?"})
			i++
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			out = append(out, token{kind: tokParam, text: sql[i:j]})
			i = j
		case c == '(' || c == ')' || c == ',' || c == '.' || c == ';':
			out = append(out, token{kind: tokPunct, text: string(c)})
			i++
		case isIdentStart(sql[i:]):
			j := i
			for j < len(sql) {
				r, n := utf8.DecodeRuneInString(sql[j:])
				if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$') {
					break
				}
				j += n
			}
			out = append(out, token{kind: tokIdent, text: sql[i:j]})
			i = j
		default:
			// Operators: the two-character ones first.
			if i+1 < len(sql) {
				switch two := sql[i : i+2]; two {
				case "<>", "!=", "<=", ">=", "::", "||":
					out = append(out, token{kind: tokOp, text: two, pos: i, end: i + 2})
					i += 2
					continue
				}
			}
			_, w := utf8.DecodeRuneInString(sql[i:])
			out = append(out, token{kind: tokOp, text: sql[i : i+w]})
			i += w
		}
		if len(out) > n {
			out[n].pos, out[n].end = start, min(i, len(sql))
		}
	}
	return out
}

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || r == '_'
}

// Normalize writes a query as its fingerprint reads it: keywords and
// unquoted names in lower case, every literal and parameter as ?, a list
// of them in IN (...) as one, single spaces.
func Normalize(sql string) string {
	toks := tokenize(sql)
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		var s string
		switch t.kind {
		case tokString, tokNumber, tokParam:
			s = "?"
			// IN (?, ?, ?) reads as IN (?).
			if i > 0 && toks[i-1].text == "(" {
				j := i + 1
				for j+1 < len(toks) && toks[j].text == "," && isLiteral(toks[j+1]) {
					j += 2
				}
				i = j - 1
			}
		case tokQuoted:
			s = `"` + t.text + `"`
		case tokIdent:
			s = strings.ToLower(t.text)
		default:
			s = t.text
		}
		if b.Len() > 0 && !(s == "," || s == ")" || s == "." || s == ";" || s == "::") && !(b.String()[b.Len()-1] == '(' || strings.HasSuffix(b.String(), ".") || strings.HasSuffix(b.String(), "::")) {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return strings.TrimSpace(strings.TrimSuffix(b.String(), ";"))
}

func isLiteral(t token) bool {
	return t.kind == tokString || t.kind == tokNumber || t.kind == tokParam
}

// Fingerprint identifies queries that differ only in their literals.
func Fingerprint(sql string) string {
	h := sha256.Sum256([]byte(Normalize(sql)))
	return hex.EncodeToString(h[:8])
}

// FilterKind says how a filter reads a column.
type FilterKind string

// Filter kinds.
const (
	// Equality: = or IN.
	Equality FilterKind = "equality"
	// Range: <, <=, >, >=, BETWEEN.
	Range FilterKind = "range"
)

// ColumnRef is a column of a table; Table is "" when a query names a
// column that could be in more than one of its tables.
type ColumnRef struct {
	Table  string `json:"table,omitempty"`
	Column string `json:"column"`
}

// Filter is one predicate on a column and a value.
type Filter struct {
	ColumnRef
	Kind FilterKind `json:"kind"`
}

// Query is what a query reads, as far as its text tells.
type Query struct {
	Fingerprint string `json:"fingerprint"`
	Normalized  string `json:"normalized"`
	// Tables are the tables it reads (their last name part, as the
	// engines fold it).
	Tables  []string    `json:"tables"`
	Columns []ColumnRef `json:"columns"`
	Filters []Filter    `json:"filters"`
	GroupBy []ColumnRef `json:"group_by"`
	Joins   []ColumnRef `json:"joins"`
	// SelectStar says it selects * (or t.*): every column.
	SelectStar bool `json:"select_star"`
	// Aggregates says the statement's own SELECT list (not a subquery's
	// or a CTE's) calls an aggregate function (count, sum, avg, min, max,
	// ...) other than as a window function (OVER): it returns one row per
	// group, or one row when it has no GROUP BY.
	Aggregates bool `json:"aggregates"`
	// Statement is its first keyword: SELECT, INSERT, ...
	Statement string `json:"statement"`
}

// keywords that end a table list or a clause; never names.
var clauseWords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true, "OFFSET": true,
	"UNION": true, "EXCEPT": true, "INTERSECT": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
	"CROSS": true, "OUTER": true, "ON": true, "USING": true, "AS": true, "AND": true, "OR": true, "NOT": true, "IN": true,
	"BETWEEN": true, "IS": true, "NULL": true, "LIKE": true, "ILIKE": true, "CASE": true, "WHEN": true, "THEN": true,
	"ELSE": true, "END": true, "BY": true, "WITH": true, "QUALIFY": true, "WINDOW": true, "DISTINCT": true, "ALL": true,
	"ASC": true, "DESC": true, "INTERVAL": true, "DATE": true, "TIMESTAMP": true, "TRUE": true, "FALSE": true,
	"CAST": true, "EXISTS": true, "ANY": true, "SOME": true, "NATURAL": true, "LATERAL": true, "VALUES": true,
	"INSERT": true, "INTO": true, "UPDATE": true, "SET": true, "DELETE": true, "MERGE": true, "CREATE": true, "TABLE": true,
	"CURRENT_DATE": true, "CURRENT_TIMESTAMP": true, "RETURNING": true, "OVER": true, "PARTITION": true, "FILTER": true,
	"NULLS": true, "FIRST": true, "LAST": true, "SEMI": true, "ANTI": true, "POSITIONAL": true, "ASOF": true,
}

// Analyze reads a query's text: the tables it reads, the columns it
// filters (by range or equality), groups by (GROUP BY 1, an alias or ALL
// read as the columns of the SELECT list's item it names) and joins on,
// whether it selects every column, and whether it aggregates. It reads
// SELECTs (with joins, subqueries and CTEs) and the SELECT inside INSERT
// ... SELECT; for other text it returns what it recognised, never an
// error.
func Analyze(sql string) Query {
	toks := tokenize(sql)
	q := Query{Fingerprint: Fingerprint(sql), Normalized: Normalize(sql), Tables: []string{}, Columns: []ColumnRef{},
		Filters: []Filter{}, GroupBy: []ColumnRef{}, Joins: []ColumnRef{}}
	if len(toks) > 0 {
		q.Statement = toks[0].upper()
	}
	a := &analyzer{toks: toks, aliases: map[string]string{}, ctes: map[string]bool{}}
	a.tables()
	q.Tables = a.tableList
	a.walk(&q)
	q.Aggregates = a.aggregates()
	q.Columns = dedupe(q.Columns)
	q.GroupBy = dedupe(q.GroupBy)
	q.Joins = dedupe(q.Joins)
	seen := map[Filter]bool{}
	var fs []Filter
	for _, f := range q.Filters {
		if !seen[f] {
			seen[f] = true
			fs = append(fs, f)
		}
	}
	if fs == nil {
		fs = []Filter{}
	}
	q.Filters = fs
	return q
}

func dedupe(refs []ColumnRef) []ColumnRef {
	seen := map[ColumnRef]bool{}
	out := []ColumnRef{}
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

type analyzer struct {
	toks      []token
	aliases   map[string]string // alias (or table name) -> table
	ctes      map[string]bool
	tableList []string
	// fromWord and depth are read off toks once (fromWords, depths).
	fromWord map[int]bool
	depth    []int
}

// tables finds the tables after FROM and JOIN (and their aliases), and
// the names of the CTEs, which are not tables.
func (a *analyzer) tables() {
	t := a.toks
	for i := 0; i < len(t); i++ {
		// name AS ( ... ): a CTE.
		if t[i].isIdent() && i+2 < len(t) && t[i+1].upper() == "AS" && t[i+2].text == "(" && !clauseWords[t[i].upper()] {
			a.ctes[t[i].name()] = true
		}
	}
	seen := map[string]bool{}
	fromWord := a.fromWords()
	for i := 0; i < len(t); i++ {
		u := t[i].upper()
		if t[i].kind != tokIdent || (u != "FROM" && u != "JOIN" && u != "INTO" && u != "UPDATE") || !fromWord[i] {
			continue
		}
		// A list of tables: FROM a x, b AS y; a JOIN takes one.
		for j := i + 1; j < len(t); {
			if t[j].text == "(" { // a subquery or a table function
				break
			}
			if !t[j].isIdent() || (t[j].kind == tokIdent && clauseWords[t[j].upper()]) {
				break
			}
			// schema.table (or project.dataset.table): the last part names it.
			name := t[j].name()
			j++
			for j+1 < len(t) && t[j].text == "." && t[j+1].isIdent() {
				name = t[j+1].name()
				j += 2
			}
			if j < len(t) && t[j].text == "(" { // a function: read_csv(...)
				break
			}
			if !a.ctes[name] {
				if !seen[name] {
					seen[name] = true
					a.tableList = append(a.tableList, name)
				}
				a.aliases[name] = name
			}
			// An alias: AS x, or a bare name that is not a keyword.
			if j < len(t) && t[j].upper() == "AS" {
				j++
			}
			if j < len(t) && t[j].isIdent() && !(t[j].kind == tokIdent && clauseWords[t[j].upper()]) {
				if !a.ctes[name] {
					a.aliases[t[j].name()] = name
				}
				j++
			}
			if u == "JOIN" || j >= len(t) || t[j].text != "," {
				break
			}
			j++
		}
	}
	if a.tableList == nil {
		a.tableList = []string{}
	}
}

// fromWords marks the FROMs (and JOINs...) that start a table list: not
// the FROM of EXTRACT(day FROM d), TRIM(x FROM y), SUBSTRING(s FROM 2),
// or IS DISTINCT FROM.
func (a *analyzer) fromWords() map[int]bool {
	if a.fromWord != nil {
		return a.fromWord
	}
	t := a.toks
	out := map[int]bool{}
	a.fromWord = out
	var calls []bool // per open parenthesis: a function's arguments
	for i, tk := range t {
		switch {
		case tk.text == "(":
			fn := i > 0 && t[i-1].kind == tokIdent && !clauseWords[t[i-1].upper()] || i > 0 && t[i-1].upper() == "CAST"
			calls = append(calls, fn)
		case tk.text == ")":
			if len(calls) > 0 {
				calls = calls[:len(calls)-1]
			}
		case tk.kind == tokIdent:
			inCall := len(calls) > 0 && calls[len(calls)-1]
			distinct := tk.upper() == "FROM" && i > 0 && t[i-1].upper() == "DISTINCT"
			out[i] = !inCall && !distinct
		}
	}
	return out
}

// column resolves a column reference at i (name, or qualifier.name); ok is
// false when the tokens there are not one. next is the index after it.
func (a *analyzer) column(i int) (ref ColumnRef, next int, ok bool) {
	t := a.toks
	if i >= len(t) || !t[i].isIdent() || t[i].kind == tokIdent && clauseWords[t[i].upper()] {
		return ColumnRef{}, i, false
	}
	// A type after :: is no column.
	if i > 0 && t[i-1].text == "::" {
		return ColumnRef{}, i, false
	}
	// A function call is not a column.
	if i+1 < len(t) && t[i+1].text == "(" {
		return ColumnRef{}, i, false
	}
	if i+2 < len(t) && t[i+1].text == "." && t[i+2].isIdent() {
		// qualifier.column (or schema.table.column: the last two parts).
		j := i
		for j+2 < len(t) && t[j+1].text == "." && t[j+2].isIdent() {
			j += 2
		}
		if j+1 < len(t) && t[j+1].text == "(" {
			return ColumnRef{}, i, false
		}
		qual := t[j-2].name()
		table := a.aliases[qual]
		if table == "" {
			table = qual
		}
		return ColumnRef{Table: table, Column: t[j].name()}, j + 1, true
	}
	if _, isTable := a.aliases[t[i].name()]; isTable && i > 0 && (t[i-1].upper() == "FROM" || t[i-1].upper() == "JOIN") {
		return ColumnRef{}, i, false
	}
	ref = ColumnRef{Column: t[i].name()}
	if len(a.tableList) == 1 {
		ref.Table = a.tableList[0]
	}
	return ref, i + 1, true
}

// valueAt reports whether a value that is not a column starts at i: a
// literal, a parameter, a typed literal (DATE '...'), CURRENT_DATE, a
// function of such, or an arithmetic of them.
func (a *analyzer) valueAt(i int) bool {
	t := a.toks
	if i >= len(t) {
		return false
	}
	switch {
	case isLiteral(t[i]):
		return true
	case t[i].kind == tokOp && (t[i].text == "-" || t[i].text == "+"):
		return a.valueAt(i + 1)
	case t[i].kind == tokIdent:
		switch t[i].upper() {
		case "DATE", "TIMESTAMP", "INTERVAL", "TIME", "TIMESTAMPTZ":
			return i+1 < len(t) && t[i+1].kind == tokString
		case "CURRENT_DATE", "CURRENT_TIMESTAMP", "NOW", "TODAY", "CAST":
			return true
		}
		// A function of values: date '...' - interval ..., now(), ...
		if i+1 < len(t) && t[i+1].text == "(" {
			depth, j := 0, i+1
			for ; j < len(t); j++ {
				if t[j].text == "(" {
					depth++
				} else if t[j].text == ")" {
					depth--
					if depth == 0 {
						break
					}
				} else if _, _, ok := a.column(j); ok && t[j].kind != tokString {
					if !(t[j].kind == tokIdent && clauseWords[t[j].upper()]) {
						return false
					}
				}
			}
			return true
		}
	case t[i].text == "(":
		// A subquery is a value to compare with.
		return i+1 < len(t) && t[i+1].upper() == "SELECT"
	}
	return false
}

// walk reads the clauses: columns, filters, GROUP BY, joins, SELECT *.
func (a *analyzer) walk(q *Query) {
	t := a.toks
	clause := ""
	fromWord := a.fromWords()
	// A subquery's clauses end with its parenthesis: the clause outside
	// it goes on after.
	var outer []string
	keys := a.groupKeys()
	for i := 0; i < len(t); i++ {
		tk := t[i]
		switch tk.text {
		case "(":
			outer = append(outer, clause)
		case ")":
			if n := len(outer); n > 0 {
				clause, outer = outer[n-1], outer[:n-1]
			}
		}
		if tk.kind == tokIdent && (tk.upper() != "FROM" || fromWord[i]) {
			switch u := tk.upper(); u {
			case "WHERE":
				// count(*) FILTER (WHERE ...) reads every row: no filter.
				if i >= 2 && t[i-1].text == "(" && t[i-2].upper() == "FILTER" {
					clause = "FILTER"
				} else {
					clause = u
				}
			case "SELECT", "FROM", "HAVING", "ON", "ORDER", "QUALIFY", "SET", "USING":
				clause = u
			case "GROUP":
				clause = "GROUP"
			case "JOIN":
				clause = "FROM"
			}
		}
		switch {
		case tk.kind == tokOp && tk.text == "*" && clause == "SELECT" && i > 0 &&
			(t[i-1].upper() == "SELECT" || t[i-1].text == "," || t[i-1].text == "." || t[i-1].upper() == "DISTINCT"):
			q.SelectStar = true
		}
		// GROUP BY 1, GROUP BY an alias, GROUP BY ALL: the columns of the
		// select list's items it names.
		if refs, ok := keys[i]; ok && clause == "GROUP" {
			q.GroupBy = append(q.GroupBy, refs...)
			continue
		}
		ref, next, ok := a.column(i)
		if !ok {
			continue
		}
		if clause != "FROM" {
			q.Columns = append(q.Columns, ref)
		}
		switch clause {
		case "GROUP":
			q.GroupBy = append(q.GroupBy, ref)
		case "WHERE", "ON", "HAVING", "QUALIFY":
			if kind, other, isJoin := a.predicate(next); kind != "" {
				if isJoin {
					q.Joins = append(q.Joins, ref, other)
				} else if clause != "HAVING" {
					q.Filters = append(q.Filters, Filter{ColumnRef: ref, Kind: kind})
				}
			} else if i >= 2 && t[i-1].kind == tokOp && opKind(t[i-1].text) != "" && valueEnd(t[i-2]) {
				// value op column: the column on the right.
				q.Filters = append(q.Filters, Filter{ColumnRef: ref, Kind: opKind(t[i-1].text)})
			}
		}
		i = next - 1
	}
}

// aggregateFuncs are the aggregate functions of DuckDB, PostgreSQL and
// BigQuery that a rollup calls (not every one of them).
var aggregateFuncs = map[string]bool{
	"COUNT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true, "MEDIAN": true, "MODE": true,
	"STDDEV": true, "STDDEV_POP": true, "STDDEV_SAMP": true, "VARIANCE": true, "VAR_POP": true, "VAR_SAMP": true,
	"COUNT_IF": true, "COUNTIF": true, "COUNT_STAR": true, "APPROX_COUNT_DISTINCT": true, "APPROX_DISTINCT": true,
	"APPROX_QUANTILE": true, "APPROX_QUANTILES": true, "APPROX_TOP_COUNT": true, "QUANTILE": true, "QUANTILE_CONT": true,
	"QUANTILE_DISC": true, "PERCENTILE_CONT": true, "PERCENTILE_DISC": true, "STRING_AGG": true, "ARRAY_AGG": true,
	"LISTAGG": true, "GROUP_CONCAT": true, "JSON_AGG": true, "JSONB_AGG": true, "LIST": true, "BOOL_AND": true,
	"BOOL_OR": true, "LOGICAL_AND": true, "LOGICAL_OR": true, "EVERY": true, "BIT_AND": true, "BIT_OR": true,
	"ANY_VALUE": true, "ARBITRARY": true, "ARG_MAX": true, "ARG_MIN": true, "MAX_BY": true, "MIN_BY": true,
	"PRODUCT": true, "FSUM": true, "CORR": true, "COVAR_POP": true, "COVAR_SAMP": true, "KURTOSIS": true,
	"SKEWNESS": true, "ENTROPY": true, "HISTOGRAM": true,
}

// depths gives each token's depth in parentheses (a parenthesis is at
// the depth outside it).
func (a *analyzer) depths() []int {
	if a.depth != nil {
		return a.depth
	}
	d, n := make([]int, len(a.toks)), 0
	a.depth = d
	for i, t := range a.toks {
		if t.kind == tokPunct && t.text == ")" && n > 0 {
			n--
		}
		d[i] = n
		if t.kind == tokPunct && t.text == "(" {
			n++
		}
	}
	return d
}

// selectEnds are the keywords that end a SELECT list (besides its FROM).
var selectEnds = map[string]bool{"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "QUALIFY": true,
	"WINDOW": true, "UNION": true, "EXCEPT": true, "INTERSECT": true, "OFFSET": true, "INTO": true}

// groupEnds are the keywords that end a GROUP BY list.
var groupEnds = map[string]bool{"HAVING": true, "ORDER": true, "LIMIT": true, "QUALIFY": true, "WINDOW": true, "UNION": true,
	"EXCEPT": true, "INTERSECT": true, "OFFSET": true}

// list splits the tokens from start at depth d by their commas, to the
// first token at that depth that end (or ; or a closing parenthesis)
// says ends the list: the items' token ranges [from, to).
func (a *analyzer) list(start int, depth []int, end func(i int) bool) [][2]int {
	t := a.toks
	var items [][2]int
	from, d := start, 0
	if start < len(t) {
		d = depth[start]
	}
	j := start
	for ; j < len(t); j++ {
		if depth[j] < d || depth[j] == d && (t[j].kind == tokPunct && t[j].text == ";" || end(j)) {
			break
		}
		if depth[j] == d && t[j].kind == tokPunct && t[j].text == "," {
			items = append(items, [2]int{from, j})
			from = j + 1
		}
	}
	if j > from {
		items = append(items, [2]int{from, j})
	}
	return items
}

// selectList is the items of the SELECT list whose keyword is at sel.
func (a *analyzer) selectList(sel int, depth []int, fromWord map[int]bool) [][2]int {
	t := a.toks
	start := sel + 1
	for start < len(t) && t[start].kind == tokIdent && (t[start].upper() == "DISTINCT" || t[start].upper() == "ALL") {
		start++
		// DISTINCT ON (...)
		if start+1 < len(t) && t[start].upper() == "ON" && t[start+1].text == "(" {
			start += 2
			for start < len(t) && depth[start] > depth[sel] {
				start++
			}
			start++
		}
	}
	if start >= len(t) || depth[start] != depth[sel] {
		return nil
	}
	return a.list(start, depth, func(i int) bool {
		u := t[i].upper()
		return t[i].kind == tokIdent && (u == "FROM" && fromWord[i] || selectEnds[u])
	})
}

// alias is the name an item of a SELECT list is given (expr AS name, or
// expr name), and where the expression ends.
func (a *analyzer) alias(item [2]int) (name string, end int) {
	t, last := a.toks, item[1]-1
	if item[1]-item[0] < 2 || !t[last].isIdent() || t[last].kind == tokIdent && clauseWords[t[last].upper()] {
		return "", item[1]
	}
	prev := t[last-1]
	switch {
	case prev.kind == tokIdent && prev.upper() == "AS":
		return t[last].name(), last - 1
	case prev.kind == tokPunct && prev.text == ")", prev.isIdent() && !(prev.kind == tokIdent && clauseWords[prev.upper()]):
		return t[last].name(), last
	}
	return "", item[1]
}

// refs are the columns an expression names (its tokens [from, to)).
func (a *analyzer) refs(from, to int) []ColumnRef {
	out := []ColumnRef{}
	for j := from; j < to; j++ {
		if ref, next, ok := a.column(j); ok {
			out = append(out, ref)
			j = next - 1
		}
	}
	return out
}

// calls reports whether an expression (its tokens [from, to)) calls an
// aggregate function other than as a window function; a subquery's
// calls are its own.
func (a *analyzer) calls(from, to int, depth []int) bool {
	t := a.toks
	for j := from; j < to; j++ {
		if t[j].kind == tokPunct && t[j].text == "(" && j+1 < to && t[j+1].kind == tokIdent && (t[j+1].upper() == "SELECT" || t[j+1].upper() == "WITH") {
			for d := depth[j]; j+1 < to && depth[j+1] > d; j++ { // skip the subquery
			}
			continue
		}
		if t[j].kind != tokIdent || !aggregateFuncs[t[j].upper()] || j+1 >= to || t[j+1].text != "(" || j > 0 && t[j-1].text == "." {
			continue
		}
		// Its closing parenthesis, then FILTER (...), then OVER: a window.
		k := j + 2
		for k < to && depth[k] > depth[j] {
			k++
		}
		k++
		if k+1 < to && t[k].upper() == "FILTER" && t[k+1].text == "(" {
			for k += 2; k < to && depth[k] > depth[j]; k++ {
			}
			k++
		}
		if k < to && t[k].kind == tokIdent && t[k].upper() == "OVER" {
			continue
		}
		return true
	}
	return false
}

// aggregates reports whether the statement's own SELECT lists (those at
// depth 0: not a subquery's or a CTE's) call an aggregate function.
func (a *analyzer) aggregates() bool {
	depth, fromWord := a.depths(), a.fromWords()
	for i, t := range a.toks {
		if t.kind != tokIdent || t.upper() != "SELECT" || depth[i] != 0 {
			continue
		}
		for _, item := range a.selectList(i, depth, fromWord) {
			if a.calls(item[0], item[1], depth) {
				return true
			}
		}
	}
	return false
}

// groupKeys reads the GROUP BY items that name an item of their SELECT
// list rather than a column: a position (GROUP BY 1), an alias, or ALL
// (every item that does not aggregate). It gives, by the item's token,
// the columns the SELECT list's item names (none for a literal).
func (a *analyzer) groupKeys() map[int][]ColumnRef {
	t := a.toks
	var out map[int][]ColumnRef
	var depth []int
	var fromWord map[int]bool
	for g := 0; g+1 < len(t); g++ {
		if t[g].kind != tokIdent || t[g].upper() != "GROUP" || t[g+1].upper() != "BY" {
			continue
		}
		if depth == nil {
			depth, fromWord = a.depths(), a.fromWords()
		}
		// Its SELECT: the nearest before it at its depth.
		sel := -1
		for k := g - 1; k >= 0 && depth[k] >= depth[g]; k-- {
			if depth[k] == depth[g] && t[k].kind == tokIdent && t[k].upper() == "SELECT" {
				sel = k
				break
			}
		}
		if sel < 0 || g+2 >= len(t) || depth[g+2] != depth[g] {
			continue
		}
		items := a.selectList(sel, depth, fromWord)
		aliases := map[string]int{}
		for n, item := range items {
			if name, _ := a.alias(item); name != "" {
				aliases[name] = n
			}
		}
		named := func(item [2]int) []ColumnRef {
			_, end := a.alias(item)
			return a.refs(item[0], end)
		}
		keys := a.list(g+2, depth, func(i int) bool { return t[i].kind == tokIdent && groupEnds[t[i].upper()] })
		for _, key := range keys {
			if key[1]-key[0] != 1 {
				continue
			}
			k := t[key[0]]
			var refs []ColumnRef
			switch {
			case k.kind == tokNumber:
				n := 0
				for _, c := range k.text {
					if c < '0' || c > '9' || n > len(items) {
						n = 0
						break
					}
					n = n*10 + int(c-'0')
				}
				if n < 1 || n > len(items) {
					continue
				}
				refs = named(items[n-1])
			case k.kind == tokIdent && k.upper() == "ALL" && len(keys) == 1:
				refs = []ColumnRef{}
				for _, item := range items {
					if !a.calls(item[0], item[1], depth) {
						refs = append(refs, named(item)...)
					}
				}
			case k.isIdent():
				n, ok := aliases[k.name()]
				if !ok {
					continue
				}
				refs = named(items[n])
			default:
				continue
			}
			if out == nil {
				out = map[int][]ColumnRef{}
			}
			out[key[0]] = refs
		}
	}
	return out
}

// valueEnd reports whether a token ends a value that is not a column:
// a literal, a parameter, CURRENT_DATE.
func valueEnd(t token) bool {
	if isLiteral(t) {
		return true
	}
	switch t.upper() {
	case "CURRENT_DATE", "CURRENT_TIMESTAMP":
		return t.kind == tokIdent
	}
	return false
}

func opKind(op string) FilterKind {
	switch op {
	case "=":
		return Equality
	case "<", "<=", ">", ">=":
		return Range
	}
	return ""
}

// predicate reads what follows a column at i: its kind of filter, or a
// join with another column (other).
func (a *analyzer) predicate(i int) (kind FilterKind, other ColumnRef, join bool) {
	t := a.toks
	if i >= len(t) {
		return "", ColumnRef{}, false
	}
	// col::type op ...: skip the cast.
	for i+1 < len(t) && t[i].text == "::" {
		i += 2
	}
	if i >= len(t) {
		return "", ColumnRef{}, false
	}
	tk := t[i]
	u := tk.upper()
	switch {
	case tk.kind == tokOp && opKind(tk.text) != "":
		if ref, _, ok := a.column(i + 1); ok && !a.valueAt(i+1) {
			if tk.text == "=" {
				return Equality, ref, true
			}
			return "", ColumnRef{}, false
		}
		if a.valueAt(i + 1) {
			return opKind(tk.text), ColumnRef{}, false
		}
	case u == "IN" && tk.kind == tokIdent:
		return Equality, ColumnRef{}, false
	case u == "BETWEEN" && tk.kind == tokIdent:
		return Range, ColumnRef{}, false
	case u == "NOT" && i+1 < len(t):
		return "", ColumnRef{}, false
	}
	return "", ColumnRef{}, false
}

// Uses reports whether the query reads the table.
func (q Query) Uses(table string) bool { return slices.Contains(q.Tables, table) }

// writeWords are keywords that make a statement change data or schema.
var writeWords = map[string]bool{"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "CREATE": true, "DROP": true,
	"ALTER": true, "TRUNCATE": true, "COPY": true, "ATTACH": true, "DETACH": true, "INSTALL": true, "LOAD": true, "PRAGMA": true,
	"SET": true, "CALL": true, "EXPORT": true, "IMPORT": true, "VACUUM": true, "CHECKPOINT": true, "GRANT": true, "REVOKE": true}

// ReadOnly reports whether a query is one statement that only reads: a
// SELECT (or WITH ... SELECT) with no second statement and no keyword
// that writes. Trials replay only such queries.
func ReadOnly(sql string) bool {
	toks := tokenize(sql)
	for len(toks) > 0 && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return false
	}
	if u := toks[0].upper(); toks[0].kind != tokIdent || u != "SELECT" && u != "WITH" && u != "FROM" {
		return false
	}
	for _, t := range toks {
		if t.text == ";" || t.kind == tokIdent && writeWords[t.upper()] {
			return false
		}
	}
	return true
}
