package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table writes aligned columns for people.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.line(headers)
	return t
}

func (t *table) row(vals ...any) {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = cell(v)
	}
	t.line(s)
}

func (t *table) line(s []string) { fmt.Fprintln(t.tw, "  "+strings.Join(s, "\t")) }

func (t *table) flush() { _ = t.tw.Flush() }

// cell renders one value for a table or CSV.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return fmt.Sprintf("\\x%x", x)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
