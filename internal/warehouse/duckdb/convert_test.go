package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// conversionCases lists, for every declared type, values that must load
// (good) and non-empty values that do not convert (bad): a bad value is
// set aside with its reason, never loaded as NULL.
var conversionCases = []struct {
	typ       string
	good, bad []string
}{
	{"INTEGER", []string{"42", "-7", "0"}, []string{"1.5", "abc", "9223372036854775808", "12:30", "yesterday", "0x1G"}},
	{"NUMERIC", []string{"1.25", "-3", "0.000000001", "1.2500000000000", "1e2"}, []string{"abc", "1.2.3", "NaN?", "12:30", "1e400", "1.0000000001", "1e-20"}},
	{"NUMERIC(12,2)", []string{"1.25", "-3", "1.230", "12e1", "0.5"}, []string{"1.234", "1e-20", "0.001", "12345678901.5", "abc"}},
	{"BIGNUMERIC", []string{"1.25", "123456789012345678.5"}, []string{"abc", "--1", "two"}},
	{"FLOAT", []string{"1.5", "-2e10", "inf", "-Infinity", "NaN"}, []string{"abc", "1e400", "-1e999", "1,5,6", "12:30"}},
	{"BOOL", []string{"true", "false"}, []string{"maybe", "2", "yesno", "truthy"}},
	{"DATE", []string{"2026-01-02", "Jan 05 2026"}, []string{"2026-13-45", "yesterday", "1700000000", "32/01/2026", "2026-02-30"}},
	{"DATETIME", []string{"2026-01-02 03:04:05", "2026-01-02T03:04:05"}, []string{"2026-01-02 25:00:00", "1700000000", "1700000000000", "noon", "2026-02-30 00:00:00"}},
	{"TIME", []string{"03:04:05", "23:59:59.5"}, []string{"25:61:00", "noon", "12:99", "1700000000"}},
	{"TIMESTAMP", []string{"2026-01-02T03:04:05Z", "2026-01-02 03:04:05+02", "2026-01-02 03:04:05"},
		[]string{"1700000000", "1700000000000", "yesterday noon", "2026-02-30T00:00:00Z", "2026-01-02 03:04:05 Mars/Olympus"}},
	{"JSON", []string{`{"a": 1}`, `[1, 2]`, `"text"`, `3`}, []string{`{bad`, `[1,`, `tru`, `{"a": }`}},
	{"BYTES", []string{"abc", `\x41\x42`}, []string{`\xZZ`, `\x4`}},
}

// writeConversionFile writes id/v records in f: v is always text, as a
// feed would send it.
func writeConversionFile(t *testing.T, w *Warehouse, dir, name string, f format.Format, vals []string) string {
	t.Helper()
	p := filepath.Join(dir, name+"."+string(f))
	var b strings.Builder
	switch f {
	case format.CSV:
		b.WriteString("id,v\n")
		for i, v := range vals {
			fmt.Fprintf(&b, "%d,\"%s\"\n", i+1, strings.ReplaceAll(v, `"`, `""`))
		}
	case format.JSONL, format.JSON:
		var recs []string
		for i, v := range vals {
			s, _ := json.Marshal(v)
			recs = append(recs, fmt.Sprintf(`{"id": %d, "v": %s}`, i+1, s))
		}
		if f == format.JSON {
			b.WriteString("[" + strings.Join(recs, ",\n") + "]\n")
		} else {
			b.WriteString(strings.Join(recs, "\n") + "\n")
		}
	case format.Parquet:
		var sel []string
		for i, v := range vals {
			sel = append(sel, fmt.Sprintf("SELECT %d AS id, %s AS v", i+1, literal(v)))
		}
		_, err := w.DB().ExecContext(context.Background(), fmt.Sprintf("COPY (%s ORDER BY id) TO %s (FORMAT parquet)", strings.Join(sel, " UNION ALL "), literal(p)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNoFailedConversionBecomesNull stages and commits every declared
// type in every format with values that convert and values that do not:
// each good value is in the target and not NULL, each bad one is in the
// quarantine with a reason naming the column, and nothing else.
func TestNoFailedConversionBecomesNull(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range conversionCases {
		for _, f := range []format.Format{format.CSV, format.JSONL, format.JSON, format.Parquet} {
			t.Run(c.typ+"/"+string(f), func(t *testing.T) {
				vals := append(append([]string{}, c.good...), c.bad...)
				target := strings.ToLower("t_" + strings.NewReplacer("(", "", ")", "", ",", "_").Replace(c.typ) + "_" + string(f))
				p := writeConversionFile(t, w, dir, target, f, vals)
				sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "v", Type: c.typ}}
				if c.typ == "NUMERIC(12,2)" {
					sch[1] = schema.Field{Name: "v", Type: "NUMERIC", Precision: 12, Scale: 2}
				}
				st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "run-1", Pipeline: target, Target: target, ObjectKey: filepath.Base(p),
					Fingerprint: "fp", Path: p, Format: f, Schema: sch})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "run-1", Pipeline: target, Target: target, Mode: "append",
					Objects: []*warehouse.Staged{st}}); err != nil {
					t.Fatal(err)
				}
				loaded := map[int]bool{}
				for _, r := range queryStrings(t, w, "SELECT CAST(id AS VARCHAR) || '|' || CASE WHEN v IS NULL THEN 'NULL' ELSE 'ok' END FROM "+ident(target)) {
					id, state, _ := strings.Cut(r, "|")
					var n int
					fmt.Sscan(id, &n)
					if state == "NULL" {
						t.Errorf("value %q (id %s) loaded as NULL", vals[n-1], id)
					}
					loaded[n] = true
				}
				quarantined := map[int]string{}
				for _, r := range queryStrings(t, w, "SELECT coalesce(CAST(line AS VARCHAR), '?') || '|' || reason || '|' || coalesce(raw, '') FROM "+ident(target+"__quarantine")) {
					parts := strings.SplitN(r, "|", 3)
					for i, v := range vals {
						if strings.Contains(parts[2], fmt.Sprintf(`"id":%d`, i+1)) || strings.Contains(parts[2], fmt.Sprintf(`"id": %d`, i+1)) ||
							strings.Contains(parts[2], fmt.Sprintf(`"id":"%d"`, i+1)) || strings.HasPrefix(parts[2], fmt.Sprintf("%d,", i+1)) {
							quarantined[i+1] = parts[1]
							_ = v
						}
					}
					if !strings.Contains(parts[1], "v") {
						t.Errorf("reason %q does not name the column", parts[1])
					}
				}
				for i, v := range vals {
					id := i + 1
					good := i < len(c.good)
					switch {
					case good && !loaded[id]:
						t.Errorf("good value %q was not loaded (quarantine: %q)", v, quarantined[id])
					case !good && loaded[id]:
						t.Errorf("bad value %q was loaded", v)
					case !good && quarantined[id] == "":
						t.Errorf("bad value %q is neither loaded nor quarantined", v)
					}
				}
			})
		}
	}
}
