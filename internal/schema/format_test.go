package schema

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestParseFormat: a DATE, DATETIME, TIMESTAMP or TIME field may declare
// the strptime layout its text is written in; it survives a JSON round
// trip.
func TestParseFormat(t *testing.T) {
	data := `[
  {"name": "day", "type": "DATE", "format": "%d/%m/%Y"},
  {"name": "seen", "type": "DATETIME", "format": "%d.%m.%Y %H:%M"},
  {"name": "at", "type": "TIMESTAMP", "format": "%m/%d/%Y %I:%M:%S %p %z"},
  {"name": "opens", "type": "TIME", "format": "%Hh%M"},
  {"name": "doy", "type": "DATE", "format": "%Y-%j"},
  {"name": "ymd", "type": "DATE", "format": "%Y%m%d"},
  {"name": "iso", "type": "DATE", "format": null},
  {"name": "pct", "type": "DATE", "format": "%d/%m/%Y 100%%"}
]`
	s, err := Parse([]byte(data), "s.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Schema{
		{Name: "day", Type: TypeDate, Mode: ModeNullable, Format: "%d/%m/%Y"},
		{Name: "seen", Type: TypeDatetime, Mode: ModeNullable, Format: "%d.%m.%Y %H:%M"},
		{Name: "at", Type: TypeTimestamp, Mode: ModeNullable, Format: "%m/%d/%Y %I:%M:%S %p %z"},
		{Name: "opens", Type: TypeTime, Mode: ModeNullable, Format: "%Hh%M"},
		{Name: "doy", Type: TypeDate, Mode: ModeNullable, Format: "%Y-%j"},
		{Name: "ymd", Type: TypeDate, Mode: ModeNullable, Format: "%Y%m%d"},
		{Name: "iso", Type: TypeDate, Mode: ModeNullable},
		{Name: "pct", Type: TypeDate, Mode: ModeNullable, Format: "%d/%m/%Y 100%%"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Parse =\n%#v\nwant\n%#v", s, want)
	}
	b, _ := json.Marshal(s)
	back, err := Parse(b, "round.json")
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip: %v\n%s", err, b)
	}
}

// TestParseFormatErrors: a format that cannot read a whole value of its
// column is an error naming the field.
func TestParseFormatErrors(t *testing.T) {
	for _, tt := range []struct{ name, field, want string }{
		{"not a string", `{"name": "day", "type": "DATE", "format": 5}`, `s.json:1:79: field 2: "format" must be a string, got a number`},
		{"on a STRING", `{"name": "day", "type": "STRING", "format": "%d/%m/%Y"}`,
			`s.json: field 2 "day": format "%d/%m/%Y": a format applies to DATE, DATETIME, TIMESTAMP and TIME columns, not STRING`},
		{"on an INTEGER", `{"name": "day", "type": "INTEGER", "format": "%Y"}`,
			`s.json: field 2 "day": format "%Y": a format applies to DATE, DATETIME, TIMESTAMP and TIME columns, not INT64`},
		{"nested", `{"name": "r", "type": "RECORD", "fields": [{"name": "d", "type": "DATE", "format": "%d/%m/%Y"}]}`,
			`s.json: field 2.1 "r.d": format "%d/%m/%Y": a format applies to top-level columns only`},
		{"unknown directive", `{"name": "day", "type": "DATE", "format": "%d/%q/%Y"}`,
			`s.json: field 2 "day": format "%d/%q/%Y": %q is not a strptime directive (use ` + directiveList + `)`},
		{"Go layout", `{"name": "day", "type": "DATE", "format": "02/01/2006"}`,
			`s.json: field 2 "day": format "02/01/2006" has no directive such as %Y or %H`},
		{"lone percent", `{"name": "day", "type": "DATE", "format": "%d/%m/%Y%"}`,
			`s.json: field 2 "day": format "%d/%m/%Y%" ends with a lone %: write %% for a percent sign`},
		{"no year", `{"name": "day", "type": "DATE", "format": "%d/%m"}`,
			`s.json: field 2 "day": format "%d/%m" does not read a whole date: a DATE needs the year (%Y or %y), the month (%m or %b) and the day (%d), or the year and the day of the year (%j)`},
		{"no day in a DATETIME", `{"name": "day", "type": "DATETIME", "format": "%m/%Y %H:%M"}`,
			`s.json: field 2 "day": format "%m/%Y %H:%M" does not read a whole date: a DATETIME needs the year (%Y or %y), the month (%m or %b) and the day (%d), or the year and the day of the year (%j)`},
		{"no hour in a TIME", `{"name": "day", "type": "TIME", "format": "%M:%S"}`,
			`s.json: field 2 "day": format "%M:%S" does not read a time of day: a TIME needs the hour (%H, or %I with %p)`},
		{"12-hour clock without AM/PM", `{"name": "day", "type": "TIMESTAMP", "format": "%d/%m/%Y %I:%M"}`,
			`s.json: field 2 "day": format "%d/%m/%Y %I:%M" reads a 12-hour clock (%I) without AM or PM (%p): 01:00 would be one in the morning or in the afternoon`},
		{"zone in a DATETIME", `{"name": "day", "type": "DATETIME", "format": "%Y-%m-%d %H:%M %z"}`,
			`s.json: field 2 "day": format "%Y-%m-%d %H:%M %z" reads a time zone (%z or %Z), which a DATETIME does not keep: declare the column TIMESTAMP`},
		{"minutes without hours", `{"name": "day", "type": "DATETIME", "format": "%Y-%m-%d %M"}`,
			`s.json: field 2 "day": format "%Y-%m-%d %M" reads minutes or seconds without the hour (%H)`},
		{"spaces", `{"name": "day", "type": "DATE", "format": " %d/%m/%Y"}`,
			`s.json: field 2 "day": format " %d/%m/%Y" starts or ends with spaces (values are trimmed before they are read)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(`[{"name": "id", "type": "INTEGER"}, `+tt.field+`]`), "s.json")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
