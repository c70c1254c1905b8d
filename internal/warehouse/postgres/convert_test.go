package postgres

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/schema"
)

// goldenRecord is what shp's DuckDB warehouse made of one value of the
// corpus in a column of one type (testdata/golden_jsonl.json, written by
// staging testdata/corpus.json as JSON Lines in the DuckDB warehouse;
// TestConversionsMatchDuckDB, which links DuckDB, checks the same live).
type goldenRecord struct {
	Type       string `json:"type"`
	MonthFirst bool   `json:"month_first"`
	Value      string `json:"value"`
	OK         bool   `json:"ok"`
	Text       string `json:"text"`
	Null       bool   `json:"null"`
}

func fieldOf(typ string) schema.Field {
	f := schema.Field{Name: "v", Type: typ}
	if strings.HasPrefix(typ, "NUMERIC(") {
		fmt.Sscanf(typ, "NUMERIC(%d,%d)", &f.Precision, &f.Scale)
		f.Type = "NUMERIC"
	}
	return f
}

// TestConversionsMatchTheGoldenFile: every value of the corpus, in every
// type, loads as the same value, or is set aside, as in DuckDB.
func TestConversionsMatchTheGoldenFile(t *testing.T) {
	f, err := os.Open("testdata/golden_jsonl.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	var arena []byte
	failures := 0
	for dec.More() {
		var g goldenRecord
		if err := dec.Decode(&g); err != nil {
			t.Fatal(err)
		}
		c := column{name: "v", t: typeOf(fieldOf(g.Type)), monthFirst: g.MonthFirst}
		var v val
		ok, detail := c.convert(g.Value, &v, &arena)
		var text string
		if ok && !v.null {
			text = string(duckText(nil, c.t, &v))
		}
		if detail != "" && g.OK {
			// PostgreSQL cannot hold what DuckDB loaded: set aside with
			// a reason of its own, which is intended.
			t.Logf("%s %q: DuckDB loads %q, PostgreSQL cannot: %s", g.Type, g.Value, g.Text, detail)
			continue
		}
		if ok != g.OK || ok && text != g.Text && !sameJSON(c.t, text, g.Text) {
			failures++
			if failures <= 60 {
				t.Errorf("%s (month first %t) %q: got ok=%t %q, DuckDB ok=%t %q", g.Type, g.MonthFirst, g.Value, ok, text, g.OK, g.Text)
			}
		}
	}
	if failures > 60 {
		t.Errorf("... %d failures in all", failures)
	}
}

func sameJSON(t colType, a, b string) bool {
	if t.kind != kJSONB {
		return false
	}
	return strings.TrimSpace(a) == strings.TrimSpace(b)
}
