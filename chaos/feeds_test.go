package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Faults of files as real feeds write them (issue 13: B6, B7, B9, D15):
// other dialects, header cells without a name, declared date formats and
// in-file corrections.

// pipeCities hold the delimiters of a |-separated file and of a
// ;-separated one: a reader must respect the quotes around them.
var pipeCities = []string{"Bern | Mitte", "Basel; Stadt", "Zürich", "Genève|GE;CH", "Köln"}

// commaCities hold commas, which a ;-separated file does not quote.
var commaCities = []string{"Basel, Stadt", "Zürich", "Genève, GE, CH", "Bern", "Köln"}

// edit replaces old with new in a file of the project, which must hold
// old.
func edit(t *testing.T, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not hold %q", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// feedFault is fileFault in a project that setup changes first (its
// source, schema or config).
func feedFault(setup func(t *testing.T, dir string), n int, cities []string, o func(rows []row) csvOpts) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dir := project(t, fileSource)
		if setup != nil {
			setup(t, dir)
		}
		rows := truth(seed, n, cities)
		os.WriteFile(filepath.Join(dir, "data", "day.csv"), writeCSV(rows, o(rows)), 0o644)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// decimalComma writes an amount as a German or French spreadsheet does.
func decimalComma(r row) string {
	return strings.Replace(fmt.Sprintf("%.2f", r.Amount), ".", ",", 1)
}

// ambiguousDays moves every day and time into the first twelve days of
// a month other than the day's number (the seed still varies them), so
// that each reads as day/month and as month/day, differently.
func ambiguousDays(rows []row) {
	ambiguous := func(t time.Time) time.Time {
		m, d := int(t.Month()), 1+(t.YearDay()*7)%12
		if d == m {
			d = m%12 + 1
		}
		return time.Date(2026, time.Month(m), d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	for i := range rows {
		rows[i].Day, rows[i].SeenAt = ambiguous(rows[i].Day), ambiguous(rows[i].SeenAt)
	}
}

// declaredFormat declares a strptime layout on a field of the schema.
func declaredFormat(field, typ, layout string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		edit(t, dir, "schemas/events.json", `"name": "`+field+`", "type": "`+typ+`"`,
			`"name": "`+field+`", "type": "`+typ+`", "format": "`+layout+`"`)
	}
}

// corrections writes a merge pipeline's file in which some records are
// followed, later in the batch, by corrections of themselves (times
// corrections each); the truth is the last version. With
// max_quarantine_ratio 0 a correction set aside fails the run. split
// writes the corrections into a second file of the same batch.
func corrections(times int, split bool) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dir := project(t, fileSource)
		edit(t, dir, "config.yaml", "max_quarantine_ratio: 1", "max_quarantine_ratio: 0")
		rows := truth(seed, 40, utf8Cities)
		r := rand.New(rand.NewPCG(seed, 13))
		in := append([]row{}, rows...)
		var later []row
		for _, i := range r.Perm(len(rows))[:6] {
			for k := 0; k < times; k++ {
				c := rows[i]
				c.Amount = float64(r.IntN(2_000_000)) / 100
				if k%2 == 1 {
					c.City = utf8Cities[r.IntN(len(utf8Cities))]
					c.Region = regions[r.IntN(len(regions))]
				}
				later = append(later, c)
				rows[i] = c
			}
		}
		if split {
			os.WriteFile(filepath.Join(dir, "data", "a.csv"), writeCSV(in, csvOpts{}), 0o644)
			os.WriteFile(filepath.Join(dir, "data", "b.csv"), writeCSV(later, csvOpts{}), 0o644)
			// b is later by its name and by its time.
			past := time.Now().Add(-time.Hour)
			os.Chtimes(filepath.Join(dir, "data", "a.csv"), past, past)
		} else {
			// Corrections among the records, each after its original.
			for _, c := range later {
				at := len(in)
				for j := range in {
					if in[j].ID == c.ID {
						at = j + 1 + r.IntN(len(in)-j)
					}
				}
				in = append(in[:at], append([]row{c}, in[at:]...)...)
			}
			os.WriteFile(filepath.Join(dir, "data", "day.csv"), writeCSV(in, csvOpts{}), 0o644)
		}
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// jsonLines writes the records as JSON Lines, day as the function writes
// it.
func jsonLines(rows []row, day func(r row) string) []byte {
	var b strings.Builder
	for _, r := range rows {
		rec, _ := json.Marshal(map[string]any{"id": r.ID, "day": day(r), "seen_at": r.SeenAt.Format("2006-01-02 15:04:05"),
			"amount": r.Amount, "qty": r.Qty, "city": r.City, "region": r.Region})
		b.Write(rec)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// Which amounts have three decimals, one more than the declared
// NUMERIC(12,2) keeps.
const (
	fewThreeDecimals  = iota // four of forty
	allThreeDecimals         // every one, none ending in 0
	mostThreeDecimals        // every one, one in five ending in 0 (so it reads)
)

// threeDecimals writes the records' amounts as AmountText, the given
// ones with three decimals.
func threeDecimals(seed uint64, rows []row, which int) {
	r := rand.New(rand.NewPCG(seed, 26))
	for i := range rows {
		rows[i].AmountText = fmt.Sprintf("%.2f", rows[i].Amount)
		if which == fewThreeDecimals {
			continue
		}
		last := 1 + r.IntN(9)
		if which == mostThreeDecimals && i%5 == 4 {
			last = 0
		}
		// 0.xxx, xx.xxx and xxx.xxx: a dot before three digits could
		// group thousands in the last two (12.345 as 12345), never in
		// the first (0.345).
		rows[i].AmountText = fmt.Sprintf("%d.%02d%d", r.IntN([]int{1, 100, 1000}[i%3]), r.IntN(100), last)
	}
	if which == fewThreeDecimals {
		oddValues(seed, rows, []string{"12.345", "0.001", "1234.5678", "-7.125"}, func(r *row, v string) { r.AmountText = v })
	}
}

// moreDecimals gives records amounts with three decimals (as currencies
// such as the dinar have, some under 1), which the declared
// NUMERIC(12,2) cannot hold: each must be set aside with its reason,
// never rounded and never read another way, and every other amount load
// exactly. With approve, a person then approves every repair shp
// proposes and the files are read again (--full-refresh): what shp
// proposed must not change a value either.
func moreDecimals(which int, jsonl, approve bool) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		src, name := fileSource, "day.csv"
		if jsonl {
			src, name = strings.Replace(fileSource, "data/*.csv", "data/*.jsonl", 1), "day.jsonl"
		}
		dir := project(t, src)
		rows := truth(seed, 40, utf8Cities)
		threeDecimals(seed, rows, which)
		if jsonl {
			var b strings.Builder
			for _, r := range rows {
				fmt.Fprintf(&b, `{"id": %d, "day": %q, "seen_at": %q, "amount": %s, "qty": %g, "city": %q, "region": %q}`+"\n",
					r.ID, r.Day.Format("2006-01-02"), r.SeenAt.Format("2006-01-02 15:04:05"), r.AmountText, r.Qty, r.City, r.Region)
			}
			os.WriteFile(filepath.Join(dir, "data", name), []byte(b.String()), 0o644)
		} else {
			os.WriteFile(filepath.Join(dir, "data", name), writeCSV(rows, csvOpts{amount: func(r row) string { return r.AmountText }}), 0o644)
		}
		code, _, errOut := shp("run", "--config", dir)
		if !approve {
			return dir, rows, false, code, errOut
		}
		code, out, errOut := shp("healing", "actions", "--config", dir, "--format", "json", "--limit", "500")
		if code != 0 {
			t.Fatalf("actions: %s %s", out, errOut)
		}
		var acts []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &acts); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, a := range acts {
			if a.Status == "proposed" {
				if code, out, errOut := shp("healing", "approve", strconv.FormatInt(a.ID, 10), "--config", dir, "--by", "chaos", "--reason", "shp proposed it"); code != 0 {
					t.Fatalf("approve %d: %s %s", a.ID, out, errOut)
				}
			}
		}
		code, _, errOut = shp("run", "--config", dir, "--full-refresh")
		return dir, rows, false, code, errOut
	}
}

// fileFeedClasses are the classes of this file.
func fileFeedClasses() []faultClass {
	return []faultClass{
		// B7: delimiter, quote and decimal mark.
		{name: "CSV separated by ;", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{delim: ";"}
		}, false)},
		{name: "CSV separated by tabs", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{delim: "\t"}
		}, false)},
		{name: "CSV separated by pipes, with quoted pipes and semicolons", source: "files", kind: "auto", run: fileFault(40, pipeCities, func(rows []row) csvOpts {
			rows[0].City, rows[1].City = pipeCities[0], pipeCities[3]
			return csvOpts{delim: "|"}
		}, false)},
		{name: "CSV separated by ; with decimal commas", source: "files", kind: "auto", run: fileFault(40, commaCities, func(rows []row) csvOpts {
			// Commas in the cities too, not quoted: a ; file needs no quotes for them.
			rows[0].City = commaCities[0]
			return csvOpts{delim: ";", amount: decimalComma}
		}, false)},
		{name: "declared delimiter ; on a tab file", source: "files", kind: "auto", run: feedFault(func(t *testing.T, dir string) {
			edit(t, dir, "sources.yaml", fileSource, fileSource+"    csv: {delimiter: \";\"}\n")
		}, 40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{delim: "\t"}
		})},
		{name: "declared delimiter , on a ; file", source: "files", kind: "auto", run: feedFault(func(t *testing.T, dir string) {
			edit(t, dir, "sources.yaml", fileSource, fileSource+"    csv: {delimiter: \",\"}\n")
		}, 40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{delim: ";"}
		})},
		// B6: header cells without a name.
		{name: "Excel trailing empty columns", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{trailing: 3}
		}, false)},
		{name: "row names in an unnamed first column (R)", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{rowNames: "R", quoteAll: true}
		}, false)},
		{name: "row names (pandas) and trailing empty columns", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			return csvOpts{rowNames: "pandas", trailing: 2}
		}, false)},
		{name: "an unnamed column with values (Excel)", source: "files", kind: "auto", run: fileFault(40, utf8Cities, func(rows []row) csvOpts {
			// A note some rows have, under a header cell nobody filled in.
			return csvOpts{unnamedExtra: true, extra: func(r row) string {
				if r.ID%3 == 0 {
					return "checked"
				}
				return ""
			}}
		}, false)},
		// D15: a declared format decides what the data cannot.
		{name: "declared day format (day/month/year), ambiguous days", source: "files", kind: "auto", run: feedFault(declaredFormat("day", "DATE", "%d/%m/%Y"), 24, utf8Cities, func(rows []row) csvOpts {
			ambiguousDays(rows)
			return csvOpts{day: func(r row) string { return r.Day.Format("02/01/2006") }}
		})},
		{name: "declared day format (month/day/year), ambiguous days", source: "files", kind: "auto", run: feedFault(declaredFormat("day", "DATE", "%m/%d/%Y"), 24, utf8Cities, func(rows []row) csvOpts {
			ambiguousDays(rows)
			return csvOpts{day: func(r row) string { return r.Day.Format("01/02/2006") }}
		})},
		{name: "declared DATETIME format (day/month/year h:m:s), ambiguous days", source: "files", kind: "auto", run: feedFault(declaredFormat("seen_at", "DATETIME", "%d/%m/%Y %H:%M:%S"), 24, utf8Cities, func(rows []row) csvOpts {
			ambiguousDays(rows)
			return csvOpts{seenAt: func(r row) string { return r.SeenAt.Format("02/01/2006 15:04:05") }}
		})},
		{name: "declared day format in JSON Lines, ambiguous days", source: "files", kind: "auto", run: func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
			dir := project(t, strings.Replace(fileSource, "data/*.csv", "data/*.jsonl", 1))
			declaredFormat("day", "DATE", "%d/%m/%Y")(t, dir)
			rows := truth(seed, 24, utf8Cities)
			ambiguousDays(rows)
			os.WriteFile(filepath.Join(dir, "data", "day.jsonl"), jsonLines(rows, func(r row) string { return r.Day.Format("02/01/2006") }), 0o644)
			code, _, errOut := shp("run", "--config", dir)
			return dir, rows, false, code, errOut
		}},
		{name: "declared day format, a day that does not exist", source: "files", kind: "escalate", cause: "31/02/2026", run: feedFault(declaredFormat("day", "DATE", "%d/%m/%Y"), 24, utf8Cities, func(rows []row) csvOpts {
			ambiguousDays(rows)
			return csvOpts{day: func(r row) string {
				if r.ID == 5 {
					return "31/02/2026"
				}
				return r.Day.Format("02/01/2006")
			}}
		})},
		// F22 in files: a declared scale is never met by rounding.
		{name: "CSV amounts with more decimals than the declared NUMERIC(12,2)", source: "files", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: moreDecimals(fewThreeDecimals, false, false)},
		{name: "JSON Lines amounts with more decimals than the declared NUMERIC(12,2)", source: "files", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: moreDecimals(fewThreeDecimals, true, false)},
		{name: "CSV amounts all with three decimals in a NUMERIC(12,2) column", source: "files", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: moreDecimals(allThreeDecimals, false, false)},
		{name: "JSON Lines amounts all with three decimals in a NUMERIC(12,2) column", source: "files", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: moreDecimals(allThreeDecimals, true, false)},
		{name: "CSV amounts mostly with three decimals, what shp proposes approved", source: "files", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: moreDecimals(mostThreeDecimals, false, true)},
		// B9: in-file corrections of a merge with a uniqueness rule on its key.
		{name: "in-file corrections (merge, unique key rule)", source: "files", kind: "auto", run: corrections(1, false)},
		{name: "a key corrected twice in one file (merge)", source: "files", kind: "auto", run: corrections(2, false)},
		{name: "corrections in a later file of the batch (merge)", source: "files", kind: "auto", run: corrections(1, true)},
	}
}
