package metadata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect is what differs between the SQL databases behind sqlStore.
type dialect struct {
	// name names the database in errors and selects its migrations.
	name string
	// dollarParams says that placeholders are $1, $2, ... instead of ?.
	dollarParams bool
	// unixMicros says that times are stored as INTEGER microseconds since
	// the Unix epoch instead of as timestamps.
	unixMicros bool
	// lockMigrations, when set, is run first in each migration
	// transaction to serialise concurrent migrations.
	lockMigrations string
}

// rebind rewrites the ? placeholders of query for the dialect. A ? inside
// a quoted string or identifier is left alone.
func (d dialect) rebind(query string) string {
	if !d.dollarParams {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// timeArg returns t as the dialect stores it: NULL for the zero time,
// otherwise UTC truncated to the microsecond.
func (d dialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if d.unixMicros {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nullTime scans a time stored by timeArg: NULL is the zero time.
type nullTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (n nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.t = time.Time{}
	case int64:
		*n.t = time.UnixMicro(v).UTC()
	case time.Time:
		*n.t = v.UTC()
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// scanTime returns a sql.Scanner that stores a scanned time in t.
func scanTime(t *time.Time) nullTime { return nullTime{t: t} }
