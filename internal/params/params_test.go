package params

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestParse checks every type with valid and invalid values.
func TestParse(t *testing.T) {
	tenant := Decl{Type: String, Pattern: regexp.MustCompile(`[a-z]+`)}
	for _, tc := range []struct {
		d        Decl
		raw      string
		want     string // canonical text; "" when refused
		errMatch string
	}{
		{Decl{Type: Int}, "42", "42", ""},
		{Decl{Type: Int}, "-7", "-7", ""},
		{Decl{Type: Int}, "+007", "7", ""},
		{Decl{Type: Int}, "0--", "", "must be an integer"},
		{Decl{Type: Int}, "1 OR 1=1", "", "must be an integer"},
		{Decl{Type: Int}, "1_000", "", "must be an integer"},
		{Decl{Type: Int}, "99999999999999999999", "", "must be an integer"},
		{Decl{Type: Int}, "", "", "must be an integer"},
		{Decl{Type: Float}, "1.5", "1.5", ""},
		{Decl{Type: Float}, "2e-3", "0.002", ""},
		{Decl{Type: Float}, "NaN", "", "finite number"},
		{Decl{Type: Float}, "inf", "", "finite number"},
		{Decl{Type: Float}, "0x1p3", "", "finite number"},
		{Decl{Type: Float}, "1;", "", "finite number"},
		{Decl{Type: Bool}, "TRUE", "true", ""},
		{Decl{Type: Bool}, "false", "false", ""},
		{Decl{Type: Bool}, "1", "", "true or false"},
		{Decl{Type: Date}, "2026-01-02", "2026-01-02", ""},
		{Decl{Type: Date}, "2026-02-30", "", "YYYY-MM-DD"},
		{Decl{Type: Date}, "2026-01-02' OR '1'='1", "", "YYYY-MM-DD"},
		{Decl{Type: Timestamp}, "2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05Z", ""},
		{Decl{Type: Timestamp}, "2026-01-02T03:04:05.25Z", "2026-01-02T03:04:05.25Z", ""},
		{Decl{Type: Timestamp}, "2026-01-02 03:04:05", "", "RFC 3339"},
		{Decl{Type: String}, "it's -- fine", "it's -- fine", ""},
		{Decl{Type: String}, "", "", ""},
		{Decl{Type: String}, "a\nb", "", "control character"},
		{Decl{Type: String}, "a\x00", "", "control character"},
		{Decl{Type: String}, "\xff", "", "UTF-8"},
		{Decl{Type: String}, strings.Repeat("a", MaxLen+1), "", "longer than"},
		{tenant, "acme", "acme", ""},
		{tenant, "acme'--", "", "must match the pattern"},
		{tenant, "ACME", "", "must match the pattern"}, // the pattern is anchored
	} {
		v, err := tc.d.Parse(tc.raw)
		switch {
		case tc.errMatch != "":
			if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
				t.Errorf("%s %q: err %v, want %q", tc.d.Type, tc.raw, err, tc.errMatch)
			}
		case err != nil:
			t.Errorf("%s %q: %v", tc.d.Type, tc.raw, err)
		case v.Text != tc.want || v.Type != tc.d.Type || !v.Declared:
			t.Errorf("%s %q: %+v, want text %q", tc.d.Type, tc.raw, v, tc.want)
		}
	}
	if _, err := ParseType("integer"); err == nil || !strings.Contains(err.Error(), "string, int, float, bool, date, timestamp") {
		t.Errorf("unknown type: %v", err)
	}
}

func TestUndeclared(t *testing.T) {
	for raw, ok := range map[string]bool{"2026-01-02": true, "0--": true, "a.b_c:d": true, "..": true, "a b": false, "x'": false, "a/b": false, "": true} {
		if _, err := Undeclared(raw); (err == nil) != ok {
			t.Errorf("%q: %v", raw, err)
		}
	}
}

func TestCheckSegment(t *testing.T) {
	for v, want := range map[string]string{
		"2026-01-02": "", "sales_eu": "", "a.b": "", "..a": "",
		"..": "climb", ".": "climb", "": "empty", "a/b": "single segment", `a\b`: "single segment",
		"a\x00": "control", "a\tb": "control", "*": "glob", "a?": "glob", "[a]": "glob",
		"%2e%2e": "%-encoding", "a%2Fb": "%-encoding", "%5c": "%-encoding",
	} {
		err := CheckSegment(v)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", v, err, want)
		}
	}
}

func TestRefsAndReplace(t *testing.T) {
	s := "a {{params.x}} b {{ params.y }} c {{params.x }} {{params.-}} {{ds}}"
	if got := strings.Join(Refs(s), ","); got != "x,y,x" {
		t.Fatalf("refs %q", got)
	}
	out, err := Replace(s, func(n string) (string, error) { return "<" + n + ">", nil })
	if err != nil || out != "a <x> b <y> c <x> {{params.-}} {{ds}}" {
		t.Fatalf("replace %q %v", out, err)
	}
	if n, ok := Only("{{ params.x }}"); !ok || n != "x" {
		t.Fatal("only")
	}
	if _, ok := Only("{{params.x}} "); ok {
		t.Fatal("only with more")
	}
}

// TestBindSQL places references in queries of both dialects: each value
// placement becomes a placeholder; a reference in a name or among a
// string's text is refused; comments are left alone.
func TestBindSQL(t *testing.T) {
	ph := func(name string) (string, error) { return "<" + name + ">", nil }
	for _, tc := range []struct {
		d           Dialect
		query, want string
		err         string
	}{
		{Postgres, "SELECT * FROM t WHERE id > {{params.min_id}} AND tenant = 'a'", "SELECT * FROM t WHERE id > <min_id> AND tenant = 'a'", ""},
		{Postgres, "WHERE day = '{{params.day}}' AND x = {{ params.x }}", "WHERE day = <day> AND x = <x>", ""},
		{Postgres, "WHERE day = E'{{params.day}}'", "WHERE day = <day>", ""},
		{Postgres, "WHERE d = $${{params.day}}$$", "WHERE d = <day>", ""},
		{Postgres, "WHERE a = 'it''s {{params.x}}'", "", "among other text"},
		{Postgres, "WHERE a LIKE '%{{params.x}}%'", "", "'%' || {{params.x}} || '%'"},
		{Postgres, "WHERE a = $tag$ x {{params.x}} $tag$", "", "among other text"},
		{Postgres, `SELECT "{{params.col}}" FROM t`, "", "never the name"},
		{Postgres, "SELECT 1 -- {{params.x}}\n, {{params.y}}", "SELECT 1 -- {{params.x}}\n, <y>", ""},
		{Postgres, "SELECT /* a /* {{params.x}} */ b */ {{params.y}}", "SELECT /* a /* {{params.x}} */ b */ <y>", ""},
		{Postgres, `SELECT 'a\' , {{params.x}}`, `SELECT 'a\' , <x>`, ""}, // standard strings: \ is a character
		{Postgres, `SELECT E'a\' , {{params.x}}'`, "", "among other text"},
		{Postgres, "SELECT a$b, {{params.x}}", "SELECT a$b, <x>", ""},
		{Postgres, "SELECT '{{params.x}}'::date, {{params.x}}::int", "SELECT <x>::date, <x>::int", ""},
		{MySQL, "SELECT * FROM t WHERE id > {{params.min_id}} AND tenant = 'a'", "SELECT * FROM t WHERE id > <min_id> AND tenant = 'a'", ""},
		{MySQL, `WHERE a = "{{params.x}}" AND b = '{{params.y}}'`, "WHERE a = <x> AND b = <y>", ""},
		{MySQL, `WHERE a = 'x\' {{params.x}}'`, "", "among other text"},
		{MySQL, "WHERE a LIKE '%{{params.x}}%'", "", "CONCAT('%', {{params.x}}, '%')"},
		{MySQL, "SELECT `{{params.col}}` FROM t", "", "never the name"},
		{MySQL, "SELECT 1 # {{params.x}}\n, {{params.y}}", "SELECT 1 # {{params.x}}\n, <y>", ""},
		{MySQL, "SELECT 1 -- {{params.x}}\n, {{params.y}}", "SELECT 1 -- {{params.x}}\n, <y>", ""},
		{MySQL, "SELECT 5--{{params.x}}", "SELECT 5--<x>", ""}, // no space: not a comment in MySQL
		{MySQL, "SELECT /* {{params.x}} */ {{params.y}}", "SELECT /* {{params.x}} */ <y>", ""},
	} {
		got, err := BindSQL(tc.query, tc.d, ph)
		switch {
		case tc.err != "":
			var pe *Error
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &pe) {
				t.Errorf("%q: err %v, want %q", tc.query, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q:\n got %q %v\nwant %q", tc.query, got, err, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	vals := map[string]string{"tenant": "acme", "q": "a&b=c d", "up": "..", "slash": "a/b"}
	value := func(n string) (string, error) { return vals[n], nil }
	for _, tc := range []struct{ tmpl, want, err string }{
		{"https://api.example.com/v1/{{params.tenant}}/orders?q={{params.q}}&x=1#f", "https://api.example.com/v1/acme/orders?q=a%26b%3Dc+d&x=1#f", ""},
		{"https://api.example.com/v1/{{params.up}}/admin", "", "climb"},
		{"https://api.example.com/v1/{{params.slash}}", "", "single segment"},
		{"https://{{params.tenant}}.example.com/v1", "", "scheme or host"},
		{"https://api.example.com/v1#{{params.tenant}}", "", "fragment"},
		{"https://api.example.com?{{params.q}}=1", "https://api.example.com?a%26b%3Dc+d=1", ""},
	} {
		got, err := URL(tc.tmpl, value)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.tmpl, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q: got %q %v, want %q", tc.tmpl, got, err, tc.want)
		}
	}
}
