package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// This file is a small parser of Dockerfile syntax, enough to check the
// repository's Dockerfile without a Docker engine. BuildKit's own parser
// (github.com/moby/buildkit/frontend/dockerfile/parser) was the first
// choice; its module would have raised some 25 of shp's dependencies
// (aws-sdk-go-v2, klauspost/compress, containerd/platforms to a release
// candidate, logrus, golang.org/x/exp, ...), so the tests parse the syntax
// themselves. What it reads, as BuildKit does:
//
//   - parser directives (# escape=` and # syntax=...) at the very top;
//   - comment lines (# first on the line, after blanks), dropped even in
//     the middle of a continued instruction, and blank lines;
//   - line continuations: the escape character (\ or the escape directive's)
//     last on a line, blanks after it allowed; the next line is appended as
//     it is, leading blanks included;
//   - instructions, case-insensitive, with their --flags (--from=build,
//     --mount=type=cache,target=/x, --chown=1:1, --platform=...);
//   - the exec (JSON array of strings) and the shell forms of the rest;
//   - here-documents (RUN <<EOF ... EOF, <<-EOF, <<"EOF") of RUN, COPY and ADD;
//   - stages: FROM [--platform=P] IMAGE [AS NAME], with the global ARGs
//     before the first FROM expanded in IMAGE ($V, ${V}, ${V:-default}).

// dockerFlag is one --name=value flag of an instruction.
type dockerFlag struct {
	Name, Value string
}

// heredoc is one here-document of an instruction.
type heredoc struct {
	Word, Body string
}

// dockerInstruction is one instruction of a Dockerfile.
type dockerInstruction struct {
	Cmd      string       // FROM, RUN, COPY...: upper-cased
	Flags    []dockerFlag // the leading --flags, in order
	Args     string       // what follows the flags, continuations joined
	Exec     bool         // Args is a JSON array of strings (the exec form)
	JSON     []string     // that array
	Heredocs []heredoc
	Line     int // the line the instruction starts on, 1-based
}

// flag returns the value of the instruction's flag name.
func (in dockerInstruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// words is Args split on blanks (the shell form, roughly).
func (in dockerInstruction) words() []string { return strings.Fields(in.Args) }

// dockerStage is one build stage: a FROM and the instructions after it.
type dockerStage struct {
	Index        int
	Name         string // AS NAME, lower-cased; "" when unnamed
	Base         string // the image, global ARGs expanded
	Line         int
	Instructions []dockerInstruction
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	Escape       byte
	Directives   map[string]string
	GlobalArgs   map[string]string // ARG NAME[=default] before the first FROM
	Instructions []dockerInstruction
	Stages       []*dockerStage
}

// final is the last stage, the image docker build produces.
func (d *dockerfile) final() *dockerStage {
	if len(d.Stages) == 0 {
		return nil
	}
	return d.Stages[len(d.Stages)-1]
}

// stageNamed returns the stage called name, among the first before stages.
func (d *dockerfile) stageNamed(name string, before int) *dockerStage {
	for _, s := range d.Stages[:before] {
		if s.Name != "" && s.Name == strings.ToLower(name) {
			return s
		}
	}
	return nil
}

// rootImage follows a stage's base through the stages it names down to an
// image from a registry.
func (d *dockerfile) rootImage(s *dockerStage) string {
	for range d.Stages {
		prev := d.stageNamed(s.Base, s.Index)
		if prev == nil {
			return s.Base
		}
		s = prev
	}
	return s.Base
}

var (
	directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$`)
	heredocRE   = regexp.MustCompile(`<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)`)
	argRefRE    = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)
)

// parseDockerfile reads src as BuildKit does, for the parts listed above.
func parseDockerfile(src string) (*dockerfile, error) {
	d := &dockerfile{Escape: '\\', Directives: map[string]string{}, GlobalArgs: map[string]string{}}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	i := 0
	// Parser directives: only at the top, before any blank line, comment
	// that is not a directive, or instruction.
	for ; i < len(lines); i++ {
		m := directiveRE.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		name := strings.ToLower(m[1])
		if _, dup := d.Directives[name]; dup {
			return nil, fmt.Errorf("line %d: directive %s given twice", i+1, name)
		}
		d.Directives[name] = m[2]
	}
	if e, ok := d.Directives["escape"]; ok {
		if e != `\` && e != "`" {
			return nil, fmt.Errorf("escape directive %q: must be \\ or `", e)
		}
		d.Escape = e[0]
	}

	isComment := func(s string) bool { return strings.HasPrefix(strings.TrimLeft(s, " \t"), "#") }
	isBlank := func(s string) bool { return strings.TrimSpace(s) == "" }
	// continues reports whether s ends with the escape character (blanks
	// after it allowed), and returns s without it.
	continues := func(s string) (string, bool) {
		t := strings.TrimRight(s, " \t")
		if t != "" && t[len(t)-1] == d.Escape {
			return t[:len(t)-1], true
		}
		return s, false
	}

	for i < len(lines) {
		if isBlank(lines[i]) || isComment(lines[i]) {
			i++
			continue
		}
		start := i
		var b strings.Builder
		for {
			if i >= len(lines) {
				break // a continuation at the end of the file ends the instruction
			}
			line := lines[i]
			i++
			if i-1 != start && (isComment(line) || isBlank(line)) {
				continue // dropped inside a continued instruction
			}
			part, more := continues(line)
			b.WriteString(part)
			if !more {
				break
			}
		}
		in, err := parseInstruction(strings.TrimSpace(b.String()), start+1)
		if err != nil {
			return nil, err
		}
		// Here-documents follow the instruction's last line.
		if in.Cmd == "RUN" || in.Cmd == "COPY" || in.Cmd == "ADD" {
			for _, m := range heredocRE.FindAllStringSubmatch(in.Args, -1) {
				if m[2] != m[4] {
					return nil, fmt.Errorf("line %d: here-document <<%s%s%s: quotes do not match", in.Line, m[2], m[3], m[4])
				}
				strip, word := m[1] == "-", m[3]
				var body strings.Builder
				closed := false
				for i < len(lines) {
					l := lines[i]
					i++
					if strip {
						l = strings.TrimLeft(l, "\t")
					}
					if l == word {
						closed = true
						break
					}
					body.WriteString(l + "\n")
				}
				if !closed {
					return nil, fmt.Errorf("line %d: here-document %s is not closed", in.Line, word)
				}
				in.Heredocs = append(in.Heredocs, heredoc{Word: word, Body: body.String()})
			}
		}
		if err := d.add(in); err != nil {
			return nil, err
		}
	}
	if len(d.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return d, nil
}

// instructionRE is an instruction's keyword and the rest.
var instructionRE = regexp.MustCompile(`^([A-Za-z]+)(?:[ \t]+(.*))?$`)

// knownInstructions are the Dockerfile reference's instructions.
var knownInstructions = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "MAINTAINER": true, "EXPOSE": true, "ENV": true,
	"ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true,
	"ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

// parseInstruction reads one instruction, continuations already joined.
func parseInstruction(text string, line int) (dockerInstruction, error) {
	m := instructionRE.FindStringSubmatch(text)
	if m == nil {
		return dockerInstruction{}, fmt.Errorf("line %d: not an instruction: %q", line, text)
	}
	in := dockerInstruction{Cmd: strings.ToUpper(m[1]), Line: line}
	if !knownInstructions[in.Cmd] {
		return dockerInstruction{}, fmt.Errorf("line %d: unknown instruction %s", line, m[1])
	}
	rest := strings.TrimSpace(m[2])
	for strings.HasPrefix(rest, "--") {
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[2:end]
		name, value, _ := strings.Cut(tok, "=")
		if name == "" {
			return dockerInstruction{}, fmt.Errorf("line %d: empty flag in %s", line, in.Cmd)
		}
		in.Flags = append(in.Flags, dockerFlag{Name: strings.ToLower(name), Value: value})
		rest = strings.TrimSpace(rest[end:])
	}
	in.Args = rest
	if strings.HasPrefix(rest, "[") {
		var arr []string
		if err := json.Unmarshal([]byte(rest), &arr); err == nil {
			in.Exec, in.JSON = true, arr
		}
	}
	return in, nil
}

// add records an instruction in its stage.
func (d *dockerfile) add(in dockerInstruction) error {
	d.Instructions = append(d.Instructions, in)
	if in.Cmd == "FROM" {
		w := in.words()
		if len(w) != 1 && !(len(w) == 3 && strings.EqualFold(w[1], "AS")) {
			return fmt.Errorf("line %d: FROM takes an image and an optional AS NAME, got %q", in.Line, in.Args)
		}
		s := &dockerStage{Index: len(d.Stages), Base: d.expandGlobal(w[0]), Line: in.Line}
		if len(w) == 3 {
			s.Name = strings.ToLower(w[2])
			if d.stageNamed(s.Name, s.Index) != nil {
				return fmt.Errorf("line %d: stage name %s used twice", in.Line, s.Name)
			}
		}
		d.Stages = append(d.Stages, s)
		return nil
	}
	if len(d.Stages) == 0 {
		if in.Cmd != "ARG" {
			return fmt.Errorf("line %d: %s before the first FROM (only ARG may come first)", in.Line, in.Cmd)
		}
		for _, kv := range argDecls(in) {
			d.GlobalArgs[kv[0]] = kv[1]
		}
		return nil
	}
	s := d.Stages[len(d.Stages)-1]
	s.Instructions = append(s.Instructions, in)
	return nil
}

// expandGlobal expands the global ARGs' defaults in s.
func (d *dockerfile) expandGlobal(s string) string {
	return argRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := argRefRE.FindStringSubmatch(ref)
		name, def := m[1], m[2]
		if name == "" {
			name = m[3]
		}
		if v := d.GlobalArgs[name]; v != "" {
			return v
		}
		return def
	})
}

// argDecls returns the NAME, default pairs of an ARG instruction (ARG A=1 B).
func argDecls(in dockerInstruction) [][2]string {
	var out [][2]string
	for _, w := range in.words() {
		name, value, _ := strings.Cut(w, "=")
		out = append(out, [2]string{name, strings.Trim(value, `"'`)})
	}
	return out
}

// envNames returns the names an ENV instruction sets: ENV A=1 B="x y", or
// the legacy ENV NAME value.
func envNames(in dockerInstruction) []string {
	w := in.words()
	if len(w) == 0 {
		return nil
	}
	if !strings.Contains(w[0], "=") {
		return []string{w[0]} // ENV NAME value with spaces
	}
	var names []string
	for _, tok := range shellishSplit(in.Args) {
		if name, _, ok := strings.Cut(tok, "="); ok {
			names = append(names, name)
		}
	}
	return names
}

// shellishSplit splits s on blanks outside double or single quotes.
func shellishSplit(s string) []string {
	var out []string
	var b strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0:
			b.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
			b.WriteRune(r)
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, b.String())
	}
	return out
}
