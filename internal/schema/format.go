package schema

import (
	"fmt"
	"strings"
)

// strptime directives the warehouse reads (DuckDB's strptime), each with
// the part of a date or time it gives.
var directives = map[string]string{
	"a": "weekday", "A": "weekday", "w": "weekday", "U": "week", "W": "week",
	"d": "day", "-d": "day", "j": "yearday", "-j": "yearday",
	"b": "month", "h": "month", "B": "month", "m": "month", "-m": "month",
	"y": "year", "-y": "year", "Y": "year",
	"H": "hour", "-H": "hour", "I": "hour12", "-I": "hour12", "p": "ampm",
	"M": "minute", "-M": "minute", "S": "second", "-S": "second",
	"g": "fraction", "f": "fraction", "n": "fraction",
	"z": "zone", "Z": "zone",
	"c": "datetime", "x": "date", "X": "time", "%": "",
}

// directiveList names the directives for messages.
const directiveList = "%Y %y %m %-m %b %B %d %-d %j %H %-H %I %p %M %S %f %g %n %z %Z %a %A %w %U %W %c %x %X %%"

// CheckFormat checks that layout is a strptime layout that reads a whole
// value of a column of type typ (DATE, DATETIME, TIMESTAMP or TIME): every
// directive is one the warehouse knows, a date names its year, month and
// day (or day of the year), a time its hour, a 12-hour clock its AM/PM,
// and only a TIMESTAMP (an absolute time) reads a time zone.
func CheckFormat(typ, layout string) error {
	switch typ {
	case TypeDate, TypeDatetime, TypeTimestamp, TypeTime:
	default:
		return fmt.Errorf("format %q: a format applies to DATE, DATETIME, TIMESTAMP and TIME columns, not %s", layout, typ)
	}
	has := map[string]bool{}
	for i := 0; i < len(layout); i++ {
		if layout[i] != '%' {
			continue
		}
		d := layout[i+1:]
		switch {
		case d == "":
			return fmt.Errorf("format %q ends with a lone %%: write %%%% for a percent sign", layout)
		case d[0] == '-' && len(d) > 1:
			d = d[:2]
		default:
			d = d[:1]
		}
		part, ok := directives[d]
		if !ok {
			return fmt.Errorf("format %q: %%%s is not a strptime directive (use %s)", layout, d, directiveList)
		}
		has[part] = true
		i += len(d)
	}
	if has["datetime"] {
		has["date"], has["time"] = true, true
	}
	date := has["date"] || has["year"] && (has["month"] && has["day"] || has["yearday"])
	clock := has["time"] || has["hour"] || has["hour12"]
	switch {
	case len(has) == 0 || len(has) == 1 && has[""]:
		return fmt.Errorf("format %q has no directive such as %%Y or %%H", layout)
	case typ != TypeTime && !date:
		return fmt.Errorf("format %q does not read a whole date: a %s needs the year (%%Y or %%y), the month (%%m or %%b) and the day (%%d), or the year and the day of the year (%%j)", layout, typ)
	case typ == TypeTime && !clock:
		return fmt.Errorf("format %q does not read a time of day: a TIME needs the hour (%%H, or %%I with %%p)", layout)
	case has["hour12"] && !has["ampm"]:
		return fmt.Errorf("format %q reads a 12-hour clock (%%I) without AM or PM (%%p): 01:00 would be one in the morning or in the afternoon", layout)
	case has["zone"] && typ != TypeTimestamp:
		return fmt.Errorf("format %q reads a time zone (%%z or %%Z), which a %s does not keep: declare the column TIMESTAMP", layout, typ)
	case !clock && (has["minute"] || has["second"] || has["fraction"]):
		return fmt.Errorf("format %q reads minutes or seconds without the hour (%%H)", layout)
	}
	if strings.TrimSpace(layout) != layout {
		return fmt.Errorf("format %q starts or ends with spaces (values are trimmed before they are read)", layout)
	}
	return nil
}
