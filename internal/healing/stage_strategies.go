package healing

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func init() {
	RegisterStageStrategy(transcodeEncoding{}, 10)
	RegisterStageStrategy(renameColumn{}, 20)
	RegisterStageStrategy(addNullableColumn{}, 30)
	RegisterStageStrategy(widenType{}, 40)
	RegisterStageStrategy(readNullTokens{}, 45)
	RegisterStageStrategy(parseDateFormat{}, 50)
	RegisterStageStrategy(parseEpoch{}, 55)
	RegisterStageStrategy(parseNumberFormat{}, 60)
	RegisterStageStrategy(relaxRequired{}, 70)
	RegisterStageStrategy(reportRemovedColumn{}, 80)
}

// sampleValues is how many distinct rejected values a strategy reads to
// decide; the verification then checks the whole object.
const sampleValues = 2000

// castColumn is a column whose values did not convert, with its staged
// type and a sample of the values.
type castColumn struct {
	warehouse.Reject
	Type   string
	Values []string
}

// castColumns lists the columns whose values did not convert, whose type
// keep accepts and that no earlier repair reads its own way, each with a
// sample of its rejected values.
func castColumns(ctx context.Context, env *StageEnv, keep func(typ string) bool) ([]castColumn, error) {
	var out []castColumn
	for _, r := range env.Rejects {
		if r.Kind != warehouse.RejectCast {
			continue
		}
		typ := env.columnType(r.Column)
		if p, done := env.Spec.Parse[r.Column]; done && !onlyNullTokens(p) || !keep(typ) {
			continue
		}
		vals, err := env.Inspect.RejectedValues(ctx, env.Staged, r.Column, sampleValues)
		if err != nil {
			return nil, err
		}
		if len(vals) > 0 {
			out = append(out, castColumn{Reject: r, Type: typ, Values: vals})
		}
	}
	return out, nil
}

// setParse sets how a column is read, keeping the null tokens an earlier
// repair gave it.
func setParse(spec warehouse.LoadSpec, column string, p warehouse.ColumnParse) {
	p.NullTokens = spec.Parse[column].NullTokens
	spec.Parse[column] = p
}

// onlyNullTokens reports whether a column's reading changes nothing but
// its null tokens, so that other repairs may still act on it.
func onlyNullTokens(p warehouse.ColumnParse) bool {
	return len(p.Layouts) == 0 && p.EpochUnit == "" && !p.DecimalComma && p.Thousands == ""
}

func firstN(vals []string, n int) []string {
	if len(vals) > n {
		return vals[:n]
	}
	return vals
}

func castIssue(column, typ, object string, rows int64, vals []string) Issue {
	return Issue{Kind: "drift", Text: fmt.Sprintf("column %q failed to convert to %s in %d rows of %s, e.g. %s",
		column, typ, rows, object, strings.Join(firstN(vals, 3), ", "))}
}

// transcodeEncoding reads a file that is not UTF-8 as Windows-1252 when
// its invalid bytes include 0x80-0x9F (curly quotes, the euro sign),
// else as Latin-1: both map every byte, so no row stays unreadable.
type transcodeEncoding struct{}

func (transcodeEncoding) Name() string { return "transcode_encoding" }

func (t transcodeEncoding) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	var rows int64
	for _, r := range env.Rejects {
		if r.Kind == warehouse.RejectEncoding {
			rows += r.Rows
		}
	}
	if rows == 0 || env.Spec.Encoding != "" || env.Spec.Format == format.Parquet {
		return nil, nil
	}
	invalid, c1, samples, err := scanEncoding(ctx, env.Spec)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", env.Spec.ObjectKey, err)
	}
	if invalid == 0 {
		return nil, nil
	}
	enc := "latin-1"
	if c1 > 0 {
		enc = "windows-1252"
	}
	spec := env.Spec.Clone()
	spec.Encoding = enc
	return &StagePlan{
		Category: Encoding, Subject: "file encoding",
		Issue:       Issue{Kind: "drift", Text: fmt.Sprintf("file encoding of %s failed: %d rows are not valid UTF-8 (%d invalid bytes)", env.Spec.ObjectKey, rows, invalid)},
		Description: fmt.Sprintf("read %s as %s and transcode it to UTF-8", env.Spec.ObjectKey, enc),
		Confidence:  0.9, Spec: spec, Rows: rows, Before: samples,
		Params: map[string]any{"encoding": enc, "invalid_bytes": invalid},
	}, nil
}

// scanEncoding counts the bytes of a file that are not valid UTF-8, and
// those among them in 0x80-0x9F, streaming.
func scanEncoding(ctx context.Context, spec warehouse.LoadSpec) (invalid, c1 int64, samples []string, err error) {
	r, err := spec.OpenData(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if utf8.Valid(line) {
			continue
		}
		if len(samples) < 3 {
			samples = append(samples, strings.ToValidUTF8(string(line), "\uFFFD"))
		}
		for i := 0; i < len(line); {
			r, n := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && n <= 1 {
				invalid++
				if line[i] >= 0x80 && line[i] <= 0x9F {
					c1++
				}
				i++
				continue
			}
			i += n
		}
	}
	return invalid, c1, samples, sc.Err()
}

// addNullableColumn loads columns the file has and the schema lacks: the
// target gains them as NULLABLE columns, earlier rows read NULL.
type addNullableColumn struct{}

func (addNullableColumn) Name() string { return "add_nullable_column" }

func (addNullableColumn) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	pairs, err := env.renamePairs(ctx)
	if err != nil {
		return nil, err
	}
	var add []schema.Field
	var names []string
	for _, f := range env.Staged.Extra {
		if renamedFrom(pairs, f.Name) {
			continue // a suspected rename is a person's call
		}
		if !schema.ValidName(f.Name) {
			continue
		}
		add = append(add, f)
		names = append(names, fmt.Sprintf("%s %s", f.Name, f.Type))
	}
	if len(add) == 0 {
		return nil, nil
	}
	spec := env.Spec.Clone()
	spec.Extend = append(spec.Extend, add...)
	return &StagePlan{
		Category: DriftAdded, Subject: "columns " + strings.Join(names, ", "),
		Issue:       Issue{Kind: "drift", Text: fmt.Sprintf("schema of %s failed to include new columns: %s", env.Spec.ObjectKey, strings.Join(names, ", "))},
		Description: fmt.Sprintf("add %s to the target as NULLABLE (earlier rows read NULL)", strings.Join(names, ", ")),
		Confidence:  0.95, Spec: spec, Rows: env.Staged.Loaded + env.Staged.Quarantined,
		Params: map[string]any{"columns": add},
	}, nil
}

// widenType widens a column whose rejected values all fit a wider type:
// integers that overflow or carry decimals become NUMERIC (or FLOAT64
// when NUMERIC cannot hold them), a DATE column holding timestamps
// becomes DATETIME.
type widenType struct{}

func (widenType) Name() string { return "widen_type" }

var (
	decimalRe   = regexp.MustCompile(`^[+-]?(\d+)(?:\.(\d+))?$`)
	floatRe     = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
	timestampRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$`)
)

func (w widenType) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	cols, err := castColumns(ctx, env, func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		r, typ, vals := c.Reject, c.Type, c.Values
		var to string
		switch typ {
		case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "INT64":
			to = "NUMERIC"
			for _, v := range vals {
				m := decimalRe.FindStringSubmatch(strings.TrimSpace(v))
				switch {
				case m != nil && len(strings.TrimLeft(m[1], "0")) <= 29 && len(m[2]) <= 9:
				case floatRe.MatchString(strings.TrimSpace(v)):
					to = "FLOAT64"
				default:
					to = ""
				}
				if to == "" {
					break
				}
			}
		case "DATE":
			to = "DATETIME"
			for _, v := range vals {
				if !timestampRe.MatchString(strings.TrimSpace(v)) {
					to = ""
					break
				}
			}
		}
		if to == "" || env.Spec.Widen[r.Column] == to {
			continue
		}
		spec := env.Spec.Clone()
		spec.Widen[r.Column] = to
		return &StagePlan{
			Category: DriftType, Subject: "column " + r.Column,
			Issue:       castIssue(r.Column, typ, env.Spec.ObjectKey, r.Rows, vals),
			Description: fmt.Sprintf("widen column %s from %s to %s in the target; no value changes", r.Column, typ, to),
			Confidence:  0.9, Spec: spec, Rows: r.Rows, Before: firstN(vals, 5),
			Params: map[string]any{"column": r.Column, "from": typ, "to": to},
		}, nil
	}
	return nil, nil
}

// dateFamily is a date layout with its time-of-day variants, in strptime
// (for the warehouse) and Go (to decide here) forms.
type dateFamily struct {
	name     string
	strptime []string
	goLayout []string
}

func family(name, sp, gl string) dateFamily {
	f := dateFamily{name: name}
	for _, t := range []struct{ sp, gl string }{{" %H:%M:%S", " 15:04:05"}, {" %H:%M", " 15:04"}, {"", ""}} {
		f.strptime = append(f.strptime, sp+t.sp)
		f.goLayout = append(f.goLayout, gl+t.gl)
	}
	return f
}

var dateFamilies = []dateFamily{
	family("day/month/year", "%d/%m/%Y", "2/1/2006"),
	family("month/day/year", "%m/%d/%Y", "1/2/2006"),
	family("day.month.year", "%d.%m.%Y", "2.1.2006"),
	family("day-month-year", "%d-%m-%Y", "2-1-2006"),
	family("month-day-year", "%m-%d-%Y", "1-2-2006"),
	family("yearmonthday", "%Y%m%d", "20060102"),
}

// layout is the family's date-only strptime layout, which names it.
func (f dateFamily) layout() string { return f.strptime[len(f.strptime)-1] }

// familyOf finds the family whose layout is choice.
func familyOf(fams []dateFamily, choice string) (dateFamily, bool) {
	for _, f := range fams {
		if f.layout() == choice {
			return f, true
		}
	}
	return dateFamily{}, false
}

// dateOptions are the layouts an ambiguous column may be read with, each
// with what it reads the first value they read differently as.
func dateOptions(fits []dateFamily, vals []string, typ string) []Option {
	sample := ""
	if len(vals) > 0 {
		sample = strings.TrimSpace(vals[0])
	}
	for _, v := range vals {
		if differs(fits, strings.TrimSpace(v), typ) {
			sample = strings.TrimSpace(v)
			break
		}
	}
	opts := make([]Option, 0, len(fits))
	for _, f := range fits {
		o := Option{Choice: f.layout(), Name: f.name}
		if t, ok := f.parse(sample, typ == "DATE"); ok {
			o.Reads = fmt.Sprintf("%s reads as %s", sample, t.Format("2006-01-02"))
		}
		opts = append(opts, o)
	}
	return opts
}

// differs reports whether the families read v as different times.
func differs(fits []dateFamily, v, typ string) bool {
	if len(fits) == 0 {
		return false
	}
	first, _ := fits[0].parse(v, typ == "DATE")
	for _, f := range fits[1:] {
		if t, _ := f.parse(v, typ == "DATE"); !t.Equal(first) {
			return true
		}
	}
	return false
}

// firstUnfit is the first value the chosen layout does not read.
func firstUnfit(vals []string, choice, typ string) string {
	for _, f := range dateFamilies {
		if f.layout() != choice {
			continue
		}
		for _, v := range vals {
			if _, ok := f.parse(strings.TrimSpace(v), typ == "DATE"); !ok {
				return v
			}
		}
	}
	return vals[0]
}

// chooseHint says how a person settles an ambiguous column.
func chooseHint(fits []dateFamily) string {
	hint := "; declare the column's format in the schema"
	if len(fits) > 0 {
		layouts := make([]string, len(fits))
		for i, f := range fits {
			layouts[i] = f.layout()
		}
		hint = fmt.Sprintf("; choose the layout with shp healing resolve ID --choose LAYOUT (%s), or declare the column's format in the schema",
			strings.Join(layouts, " or "))
	}
	return hint
}

func (f dateFamily) parse(v string, dateOnly bool) (time.Time, bool) {
	for i, l := range f.goLayout {
		if dateOnly && i < 2 {
			continue // a DATE column keeps no time of day
		}
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDateFormat reads a date or timestamp column with the one layout
// that every rejected value of the batch fits. When two layouts fit and
// read a value differently (03/04/2026: 3 April or March 4?) nothing is
// guessed: the rows stay in quarantine and a person is asked, offered the
// layouts as options. The layout a person chooses (shp healing resolve)
// reads the column from then on.
type parseDateFormat struct{}

func (parseDateFormat) Name() string { return "parse_date_format" }

// The type checks below take a staged column's engine type: DuckDB's and
// PostgreSQL's names (BIGINT, DOUBLE, DECIMAL(p,s), TIMESTAMP) and
// BigQuery's (INT64, FLOAT64, NUMERIC(p, s), BIGNUMERIC, DATETIME).

func isTimeType(typ string) bool {
	return typ == "DATE" || typ == "DATETIME" || strings.HasPrefix(typ, "TIMESTAMP")
}

func (p parseDateFormat) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	cols, err := castColumns(ctx, env, isTimeType)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		r, typ, vals := c.Reject, c.Type, c.Values
		var fits []dateFamily
		for _, f := range dateFamilies {
			all := true
			for _, v := range vals {
				if _, ok := f.parse(strings.TrimSpace(v), typ == "DATE"); !ok {
					all = false
					break
				}
			}
			if all {
				fits = append(fits, f)
			}
		}
		subject := "column " + r.Column
		choice := env.chosen(p.Name(), subject)
		if choice != "" {
			// A person chose the column's layout: it reads the batch when
			// every value fits it; values another layout reads instead are
			// not guessed, but asked about again.
			if f, ok := familyOf(fits, choice); ok {
				fits = []dateFamily{f}
			} else if len(fits) > 0 {
				plan := &StagePlan{
					Category: DateFormat, Subject: subject,
					Issue: castIssue(r.Column, typ, env.Spec.ObjectKey, r.Rows, vals),
					Rows:  r.Rows, Before: firstN(vals, 5),
					Params: map[string]any{"column": r.Column, "layout": nil, "options": dateOptions(fits, vals, typ)},
					Escalate: fmt.Sprintf("column %s: values such as %s do not read as %s, the layout a person chose for it; the rows stay set aside%s",
						r.Column, firstUnfit(vals, choice, typ), choice, chooseHint(fits)),
				}
				return plan, nil
			}
		}
		if len(fits) == 0 {
			continue
		}
		chosen := fits[0]
		var conflict string
		for _, f := range fits[1:] {
			for _, v := range vals {
				a, _ := chosen.parse(strings.TrimSpace(v), typ == "DATE")
				b, _ := f.parse(strings.TrimSpace(v), typ == "DATE")
				if !a.Equal(b) {
					conflict = fmt.Sprintf("%s reads as %s (%s) or %s (%s)", v, a.Format("2006-01-02"), chosen.name, b.Format("2006-01-02"), f.name)
					break
				}
			}
			if conflict != "" {
				break
			}
		}
		plan := &StagePlan{
			Category: DateFormat, Subject: subject,
			Issue: castIssue(r.Column, typ, env.Spec.ObjectKey, r.Rows, vals),
			Rows:  r.Rows, Before: firstN(vals, 5),
			Params: map[string]any{"column": r.Column, "layout": chosen.layout()},
		}
		if conflict != "" {
			plan.Escalate = fmt.Sprintf("ambiguous date layout in column %s: %s, and no value in the batch tells them apart; the rows stay set aside%s",
				r.Column, conflict, chooseHint(fits))
			plan.Params["layout"] = nil
			plan.Params["options"] = dateOptions(fits, vals, typ)
			return plan, nil
		}
		for _, v := range plan.Before {
			t, _ := chosen.parse(strings.TrimSpace(v), typ == "DATE")
			plan.After = append(plan.After, t.Format("2006-01-02 15:04:05"))
		}
		spec := env.Spec.Clone()
		layouts := chosen.strptime
		if typ == "DATE" {
			layouts = layouts[2:]
		}
		setParse(spec, r.Column, warehouse.ColumnParse{Layouts: layouts})
		plan.Spec, plan.Confidence = spec, 0.95
		plan.Description = fmt.Sprintf("read column %s as %s (%s): every rejected value fits it and no other layout reads them differently",
			r.Column, chosen.name, chosen.layout())
		if choice != "" {
			plan.Params["choice"] = choice
			plan.Description = fmt.Sprintf("read column %s as %s (%s), the layout a person chose for it: every rejected value fits it",
				r.Column, chosen.name, chosen.layout())
		}
		return plan, nil
	}
	return nil, nil
}

// parseEpoch reads whole numbers in a date or timestamp column as a Unix
// time, in the one unit (s, ms or us) that puts every value between 1973
// and 2286.
type parseEpoch struct{}

func (parseEpoch) Name() string { return "parse_epoch" }

var epochRe = regexp.MustCompile(`^\d+(\.\d+)?$`)

func epochUnit(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return ""
	}
	switch {
	case f >= 1e8 && f < 1e10:
		return "s"
	case f >= 1e11 && f < 1e13:
		return "ms"
	case f >= 1e14 && f < 1e16:
		return "us"
	}
	return ""
}

func (p parseEpoch) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	cols, err := castColumns(ctx, env, isTimeType)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		r, typ, vals := c.Reject, c.Type, c.Values
		units := map[string]int{}
		ok := true
		for _, v := range vals {
			v = strings.TrimSpace(v)
			if !epochRe.MatchString(v) {
				ok = false
				break
			}
			units[epochUnit(v)]++
		}
		if !ok {
			continue
		}
		plan := &StagePlan{Category: DateFormat, Subject: "column " + r.Column, Issue: castIssue(r.Column, typ, env.Spec.ObjectKey, r.Rows, vals), Rows: r.Rows, Before: firstN(vals, 5)}
		if len(units) != 1 || units[""] > 0 {
			var parts []string
			for _, u := range []string{"s", "ms", "us", ""} {
				if n := units[u]; n > 0 {
					if u == "" {
						u = "no unit within 1973-2286"
					}
					parts = append(parts, fmt.Sprintf("%d in %s", n, u))
				}
			}
			plan.Escalate = fmt.Sprintf("column %s holds Unix times whose unit is not one for the batch: %s; the rows stay set aside", r.Column, strings.Join(parts, ", "))
			return plan, nil
		}
		var unit string
		for u := range units {
			unit = u
		}
		div := map[string]float64{"s": 1, "ms": 1e3, "us": 1e6}[unit]
		for _, v := range plan.Before {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			sec, frac := math.Modf(f / div)
			plan.After = append(plan.After, time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02 15:04:05.999"))
		}
		spec := env.Spec.Clone()
		setParse(spec, r.Column, warehouse.ColumnParse{EpochUnit: unit})
		plan.Spec, plan.Confidence = spec, 0.95
		plan.Params = map[string]any{"column": r.Column, "unit": unit}
		plan.Description = fmt.Sprintf("read column %s as Unix time in %s: every value falls between 1973 and 2286 in that unit only", r.Column, unit)
		return plan, nil
	}
	return nil, nil
}

// parseNumberFormat reads numbers written with a decimal comma
// ("1.234,5", "7,25") or with thousands separators ("1,234.5"). A value
// such as "1,234" fits both; the batch decides only when its values do.
type parseNumberFormat struct{}

func (parseNumberFormat) Name() string { return "parse_number_format" }

var (
	decimalCommaRe = regexp.MustCompile(`^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$`)
	thousandsRe    = regexp.MustCompile(`^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$`)
	// leadingZeroGroupRe matches a number whose first dot group is 0:
	// its dot is a decimal point.
	leadingZeroGroupRe = regexp.MustCompile(`^[+-]?0\.`)
)

func isIntegerType(typ string) bool {
	switch typ {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "INT64":
		return true
	}
	return false
}

func isNumericType(typ string) bool {
	switch {
	case typ == "DOUBLE", typ == "FLOAT", typ == "FLOAT64", strings.HasPrefix(typ, "DECIMAL"),
		strings.HasPrefix(typ, "NUMERIC"), strings.HasPrefix(typ, "BIGNUMERIC"), isIntegerType(typ):
		return true
	}
	return false
}

func (p parseNumberFormat) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	cols, err := castColumns(ctx, env, isNumericType)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		r, typ, vals := c.Reject, c.Type, c.Values
		dc, th := true, true
		// A decimal comma needs evidence: a comma, or several dot groups
		// ("1.234.567"). "81.206" alone reads as 81206 or as 81.206, and
		// "0.436" has a decimal point: no leading group is 0.
		dcEvidence := false
		for _, v := range vals {
			v = strings.TrimSpace(v)
			dc = dc && decimalCommaRe.MatchString(v) && !leadingZeroGroupRe.MatchString(v)
			th = th && thousandsRe.MatchString(v)
			dcEvidence = dcEvidence || strings.Contains(v, ",") || strings.Count(v, ".") > 1
		}
		dc = dc && dcEvidence
		plan := &StagePlan{Category: NumberFormat, Subject: "column " + r.Column, Issue: castIssue(r.Column, typ, env.Spec.ObjectKey, r.Rows, vals), Rows: r.Rows, Before: firstN(vals, 5)}
		spec := env.Spec.Clone()
		switch {
		case !dc && !th:
			continue
		case dc && th && isIntegerType(typ):
			// An integer has no decimal mark: "1,234" can only group
			// thousands.
			setParse(spec, r.Column, warehouse.ColumnParse{Thousands: ","})
			plan.Description = fmt.Sprintf("read column %s without its thousands separators (an integer has no decimal comma: 1,234 is 1234)", r.Column)
			plan.Confidence = 0.95
			for _, v := range plan.Before {
				plan.After = append(plan.After, strings.ReplaceAll(strings.TrimSpace(v), ",", ""))
			}
		case dc && th:
			plan.Escalate = fmt.Sprintf("column %s: values such as %s read as a decimal comma or as thousands separators, and none tells which; the rows stay set aside", r.Column, vals[0])
			return plan, nil
		case th:
			setParse(spec, r.Column, warehouse.ColumnParse{Thousands: ","})
			plan.Description = fmt.Sprintf("read column %s without its thousands separators (1,234.5 is 1234.5)", r.Column)
			plan.Confidence = 0.95
			for _, v := range plan.Before {
				plan.After = append(plan.After, strings.ReplaceAll(strings.TrimSpace(v), ",", ""))
			}
		default:
			setParse(spec, r.Column, warehouse.ColumnParse{DecimalComma: true})
			plan.Description = fmt.Sprintf("read column %s with a decimal comma (1.234,5 is 1234.5)", r.Column)
			// The rule is applied to every value of the column; values
			// the default reader accepted ("1.5") would be read again
			// the batch's way, which only a person can vouch for.
			n, err := env.Accepted(ctx, r.Column)
			if err != nil {
				return nil, err
			}
			plan.Confidence = 0.95
			if n > 0 {
				plan.Confidence = 0.7
				plan.Description += fmt.Sprintf("; %d values the default reader accepted would be read the same way", n)
			}
			for _, v := range plan.Before {
				plan.After = append(plan.After, strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(v), ".", ""), ",", "."))
			}
		}
		plan.Spec = spec
		plan.Params = map[string]any{"column": r.Column, "parse": spec.Parse[r.Column]}
		return plan, nil
	}
	return nil, nil
}

// relaxRequired lets a REQUIRED column hold NULL. It changes what the
// target promises, so it waits for a person unless the policy says
// otherwise for the strategy.
type relaxRequired struct{}

func (relaxRequired) Name() string { return "relax_required" }

func (relaxRequired) Plan(ctx context.Context, env *StageEnv) (*StagePlan, error) {
	for _, r := range env.Rejects {
		if r.Kind != warehouse.RejectNull {
			continue
		}
		f, ok := env.Spec.Schema.Lookup(r.Column)
		if !ok || !f.Required() {
			continue // a merge key cannot be NULL
		}
		relaxed := false
		for _, c := range env.Spec.Relax {
			relaxed = relaxed || strings.EqualFold(c, r.Column)
		}
		if relaxed {
			continue
		}
		spec := env.Spec.Clone()
		spec.Relax = append(spec.Relax, r.Column)
		return &StagePlan{
			Category: DriftRequired, Subject: "column " + r.Column,
			Issue:       Issue{Kind: "drift", Text: fmt.Sprintf("column %q failed its REQUIRED mode: NULL in %d rows of %s", r.Column, r.Rows, env.Spec.ObjectKey)},
			Description: fmt.Sprintf("relax column %s from REQUIRED to NULLABLE and load its NULLs", r.Column),
			Confidence:  0.6, Spec: spec, Rows: r.Rows, Params: map[string]any{"column": r.Column},
		}, nil
	}
	return nil, nil
}
