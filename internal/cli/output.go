package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/service"
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
		s[i] = termSafe(cell(v))
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

// termSafe makes caller- or data-supplied text safe to print on a terminal:
// control characters (tab and newline included), C1 controls and bidi
// overrides become visible escapes such as \x1b, \n or \u202e, and each
// byte of invalid UTF-8 becomes \xNN. Other text is left as it is.
func termSafe(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, service.UnsafeTextRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case service.UnsafeTextRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
