package deploy

// The repository's Dockerfile is checked here without a Docker engine. It
// is parsed (dockerparse_test.go) and held to these rules, each of which a
// bad snippet in TestDockerfileRulesCatchBadSnippets must break:
//
//   - pinned-bases: every FROM names a stage, or an image with a digest, or
//     a tag other than "latest" with a version (a digit) in the tag or, as
//     distroless writes it (cc-debian12:nonroot: its tags are variants), in
//     the repository's name; never no tag.
//   - go-matches-go-mod: a golang build image's tag starts with go.mod's go
//     version (1.26.8), so the image builds with the project's toolchain.
//   - glibc-runtime: the final stage's base (through the stages it names) is
//     gcr.io/distroless/cc-debian* or debian:*-slim: glibc, and libstdc++
//     for DuckDB (distroless/base and static have no libstdc++, alpine has
//     musl).
//   - non-root-user: the final stage has a USER, the last one neither root
//     nor 0 (numeric, so that Kubernetes' runAsNonRoot can check it).
//   - exec-form: the final stage's ENTRYPOINT (required) and CMD are JSON
//     arrays: no shell in distroless, and signals reach shp.
//   - healthcheck-works: a HEALTHCHECK is NONE or an exec-form CMD of a
//     program the image has, never a shell command or curl.
//   - no-add-url: no ADD of a URL or a git repository.
//   - apt-get-hygiene: a RUN with apt-get install also has
//     --no-install-recommends and removes /var/lib/apt/lists.
//   - no-secret-names: no ARG or ENV whose name has PASSWORD, PASSWD,
//     SECRET, TOKEN, KEY, APIKEY or CREDENTIALS as a word: build arguments
//     and environment stay in the image's history.
//   - no-secret-files: no COPY or ADD of .env files, keys or credentials.
//   - copy-from-stage: every COPY --from names an earlier stage by its name
//     (not an index, not an image).
//   - go-build: a RUN builds ./cmd/shp with go build, -tags duckdb_arrow,
//     -trimpath and the version stamped with
//     -X github.com/shp-dev/shp/internal/cli.Version=, with CGO_ENABLED=1
//     in that RUN or the stage's ENV.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerRule is one rule the Dockerfile must keep.
type dockerRule struct {
	name  string
	check func(d *dockerfile) []string
}

// dockerRules are the rules above; goVersion is go.mod's go line.
func dockerRules(goVersion string) []dockerRule {
	return []dockerRule{
		{"pinned-bases", checkPinnedBases},
		{"go-matches-go-mod", func(d *dockerfile) []string { return checkGoVersion(d, goVersion) }},
		{"glibc-runtime", checkGlibcRuntime},
		{"non-root-user", checkNonRootUser},
		{"exec-form", checkExecForm},
		{"healthcheck-works", checkHealthcheck},
		{"no-add-url", checkNoAddURL},
		{"apt-get-hygiene", checkAptGet},
		{"no-secret-names", checkSecretNames},
		{"no-secret-files", checkSecretFiles},
		{"copy-from-stage", checkCopyFrom},
		{"go-build", checkGoBuild},
	}
}

// splitImage returns an image reference's name, tag and digest.
func splitImage(ref string) (name, tag, digest string) {
	if at := strings.Index(ref, "@"); at >= 0 {
		ref, digest = ref[:at], ref[at+1:]
	}
	// A tag follows the last colon after the last slash (a registry's port
	// comes before a slash).
	if c := strings.LastIndex(ref, ":"); c > strings.LastIndex(ref, "/") {
		return ref[:c], ref[c+1:], digest
	}
	return ref, "", digest
}

func checkPinnedBases(d *dockerfile) []string {
	var out []string
	for _, s := range d.Stages {
		if strings.EqualFold(s.Base, "scratch") || d.stageNamed(s.Base, s.Index) != nil {
			continue
		}
		if strings.Contains(s.Base, "$") {
			out = append(out, lineMsg(s.Line, "FROM %s: an ARG without a default leaves the base unpinned", s.Base))
			continue
		}
		name, tag, digest := splitImage(s.Base)
		switch {
		case strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64:
		case tag == "":
			out = append(out, lineMsg(s.Line, "FROM %s has no tag: it means latest", s.Base))
		case tag == "latest":
			out = append(out, lineMsg(s.Line, "FROM %s: latest is whatever was pushed last", s.Base))
		case !strings.ContainsAny(tag, "0123456789") && !strings.ContainsAny(path.Base(name), "0123456789"):
			out = append(out, lineMsg(s.Line, "FROM %s: neither the tag %q nor the repository names a version", s.Base, tag))
		}
	}
	return out
}

func checkGoVersion(d *dockerfile, goVersion string) []string {
	var out []string
	for _, s := range d.Stages {
		name, tag, _ := splitImage(s.Base)
		if name != "golang" && !strings.HasSuffix(name, "/golang") {
			continue
		}
		v, _, _ := strings.Cut(tag, "-")
		if v != goVersion {
			out = append(out, lineMsg(s.Line, "FROM %s: Go %s, go.mod says go %s", s.Base, v, goVersion))
		}
	}
	return out
}

func checkGlibcRuntime(d *dockerfile) []string {
	base := d.rootImage(d.final())
	name, tag, _ := splitImage(base)
	switch {
	case strings.HasPrefix(name, "gcr.io/distroless/cc-debian"):
		return nil
	case (name == "debian" || strings.HasSuffix(name, "/debian")) && strings.HasSuffix(tag, "-slim"):
		return nil
	}
	return []string{lineMsg(d.final().Line, "the final stage runs on %s: it needs glibc and libstdc++ (gcr.io/distroless/cc-debian12 or debian:*-slim)", base)}
}

func checkNonRootUser(d *dockerfile) []string {
	s := d.final()
	var user *dockerInstruction
	for i := range s.Instructions {
		if s.Instructions[i].Cmd == "USER" {
			user = &s.Instructions[i]
		}
	}
	if user == nil {
		return []string{lineMsg(s.Line, "the final stage has no USER: it runs as root")}
	}
	name, _, _ := strings.Cut(strings.TrimSpace(user.Args), ":")
	if name == "" || name == "root" || strings.Trim(name, "0") == "" {
		return []string{lineMsg(user.Line, "USER %s is root", user.Args)}
	}
	return nil
}

func checkExecForm(d *dockerfile) []string {
	var out []string
	seen := false
	for _, in := range d.final().Instructions {
		if in.Cmd != "ENTRYPOINT" && in.Cmd != "CMD" {
			continue
		}
		if in.Cmd == "ENTRYPOINT" {
			seen = true
		}
		if !in.Exec || len(in.JSON) == 0 {
			out = append(out, lineMsg(in.Line, "%s %s is not in exec (JSON) form", in.Cmd, in.Args))
		}
	}
	if !seen {
		out = append(out, lineMsg(d.final().Line, "the final stage has no ENTRYPOINT"))
	}
	return out
}

func checkHealthcheck(d *dockerfile) []string {
	var out []string
	for _, in := range d.final().Instructions {
		if in.Cmd != "HEALTHCHECK" {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(in.Args), "NONE") {
			continue
		}
		kw, rest, _ := strings.Cut(in.Args, " ")
		sub, err := parseInstruction("CMD "+strings.TrimSpace(rest), in.Line)
		switch {
		case !strings.EqualFold(kw, "CMD"):
			out = append(out, lineMsg(in.Line, "HEALTHCHECK %s: expected CMD or NONE", in.Args))
		case err != nil || !sub.Exec || len(sub.JSON) == 0:
			out = append(out, lineMsg(in.Line, "HEALTHCHECK in shell form: the image has no shell"))
		case !strings.HasPrefix(sub.JSON[0], "/usr/local/bin/shp"):
			out = append(out, lineMsg(in.Line, "HEALTHCHECK runs %s: the image has only shp", sub.JSON[0]))
		}
	}
	return out
}

func checkNoAddURL(d *dockerfile) []string {
	var out []string
	for _, in := range d.Instructions {
		if in.Cmd != "ADD" {
			continue
		}
		srcs := in.words()
		if in.Exec {
			srcs = in.JSON
		}
		for _, src := range srcs {
			l := strings.ToLower(src)
			if strings.Contains(l, "://") || strings.HasPrefix(l, "git@") {
				out = append(out, lineMsg(in.Line, "ADD %s fetches from the network: download in a RUN with a checksum, or COPY", src))
			}
		}
	}
	return out
}

var aptInstallRE = regexp.MustCompile(`\bapt(-get)?\s+(?:-\S+\s+)*install\b`)

func checkAptGet(d *dockerfile) []string {
	var out []string
	for _, in := range d.Instructions {
		if in.Cmd != "RUN" {
			continue
		}
		text := in.Args
		for _, h := range in.Heredocs {
			text += "\n" + h.Body
		}
		if !aptInstallRE.MatchString(text) {
			continue
		}
		if !strings.Contains(text, "--no-install-recommends") {
			out = append(out, lineMsg(in.Line, "apt-get install without --no-install-recommends"))
		}
		if !strings.Contains(text, "rm -rf /var/lib/apt/lists") {
			out = append(out, lineMsg(in.Line, "apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN"))
		}
	}
	return out
}

// secretWords are the name parts that mark a secret.
var secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY", "CREDENTIALS", "CREDENTIAL"}

// secretName reports whether an ARG or ENV name looks like a secret's.
func secretName(name string) bool {
	for _, part := range regexp.MustCompile(`[^A-Z0-9]+`).Split(strings.ToUpper(name), -1) {
		if slices.Contains(secretWords, part) {
			return true
		}
	}
	return false
}

func checkSecretNames(d *dockerfile) []string {
	var out []string
	for _, in := range d.Instructions {
		var names []string
		switch in.Cmd {
		case "ARG":
			for _, kv := range argDecls(in) {
				names = append(names, kv[0])
			}
		case "ENV":
			names = envNames(in)
		}
		for _, n := range names {
			if secretName(n) {
				out = append(out, lineMsg(in.Line, "%s %s looks like a secret: it would stay in the image's history", in.Cmd, n))
			}
		}
	}
	return out
}

// secretFileRE matches the sources a COPY or ADD must not take.
var secretFileRE = regexp.MustCompile(`(?i)(^|/)(\.env(\..*)?|.*\.pem|.*\.key|.*\.p12|.*-key\.json|.*credentials.*\.json|service-account.*\.json|\.netrc|id_rsa.*|.*\.tfstate.*)$`)

func checkSecretFiles(d *dockerfile) []string {
	var out []string
	for _, in := range d.Instructions {
		if in.Cmd != "COPY" && in.Cmd != "ADD" {
			continue
		}
		srcs := in.words()
		if in.Exec {
			srcs = in.JSON
		}
		if len(srcs) > 1 {
			srcs = srcs[:len(srcs)-1] // the last is the destination
		}
		for _, src := range srcs {
			if secretFileRE.MatchString(strings.TrimSuffix(src, "/")) {
				out = append(out, lineMsg(in.Line, "%s %s copies a secret into a layer", in.Cmd, src))
			}
		}
	}
	return out
}

func checkCopyFrom(d *dockerfile) []string {
	var out []string
	for _, s := range d.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "COPY" {
				continue
			}
			from, ok := in.flag("from")
			if !ok {
				continue
			}
			if d.stageNamed(from, s.Index) == nil {
				out = append(out, lineMsg(in.Line, "COPY --from=%s: not the name of an earlier stage", from))
			}
		}
	}
	return out
}

func checkGoBuild(d *dockerfile) []string {
	for _, s := range d.Stages {
		cgoEnv := false
		for _, in := range s.Instructions {
			if in.Cmd == "ENV" && regexp.MustCompile(`(^|\s)CGO_ENABLED=1(\s|$)`).MatchString(in.Args) {
				cgoEnv = true
			}
			if in.Cmd != "RUN" || !strings.Contains(in.Args, "go build") || !strings.Contains(in.Args, "./cmd/shp") {
				continue
			}
			var missing []string
			if !regexp.MustCompile(`-tags[= ]+["']?duckdb_arrow`).MatchString(in.Args) {
				missing = append(missing, "-tags duckdb_arrow")
			}
			if !strings.Contains(in.Args, "-trimpath") {
				missing = append(missing, "-trimpath")
			}
			if !strings.Contains(in.Args, "-X github.com/shp-dev/shp/internal/cli.Version=") {
				missing = append(missing, "-ldflags -X github.com/shp-dev/shp/internal/cli.Version=")
			}
			if !cgoEnv && !regexp.MustCompile(`(^|\s)CGO_ENABLED=1\s`).MatchString(in.Args) {
				missing = append(missing, "CGO_ENABLED=1")
			}
			if len(missing) > 0 {
				return []string{lineMsg(in.Line, "go build of ./cmd/shp without %s", strings.Join(missing, ", "))}
			}
			return nil
		}
	}
	return []string{"no RUN builds ./cmd/shp with go build"}
}

// lineMsg prefixes a problem with its line.
func lineMsg(line int, format string, args ...any) string {
	return fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)
}

// repoRoot is the module's root, the deploy folder's parent.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root %s has no go.mod: %v", root, err)
	}
	return root
}

// goModVersion is go.mod's go line.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func readDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDockerfile(string(b))
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	return d
}

// TestDockerfileRules holds the repository's Dockerfile to every rule.
func TestDockerfileRules(t *testing.T) {
	d := readDockerfile(t)
	for _, r := range dockerRules(goModVersion(t)) {
		t.Run(r.name, func(t *testing.T) {
			for _, p := range r.check(d) {
				t.Error(p)
			}
		})
	}
}

// TestDockerfileShape checks what the rules do not: the final stage's
// command, port and labels, and the build stages' names.
func TestDockerfileShape(t *testing.T) {
	d := readDockerfile(t)
	if len(d.Stages) < 2 {
		t.Fatalf("%d stage(s): want a build stage and a runtime stage", len(d.Stages))
	}
	final := d.final()
	want := map[string][]string{
		"ENTRYPOINT": {"/usr/local/bin/shp"},
		"CMD":        {"serve", "--config", "/etc/shp", "--api-listen", "0.0.0.0:8080"},
	}
	got := map[string][]string{}
	var exposed []string
	labels := ""
	for _, in := range final.Instructions {
		switch in.Cmd {
		case "ENTRYPOINT", "CMD":
			got[in.Cmd] = in.JSON
		case "EXPOSE":
			exposed = append(exposed, in.words()...)
		case "LABEL":
			labels += " " + in.Args
		}
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !slices.Contains(exposed, "8080") {
		t.Errorf("EXPOSE %v: want 8080", exposed)
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.description"} {
		if !strings.Contains(labels, l+"=") {
			t.Errorf("the final stage has no label %s", l)
		}
	}
	if !slices.ContainsFunc(final.Instructions, func(in dockerInstruction) bool {
		v, ok := in.flag("from")
		return in.Cmd == "COPY" && ok && strings.Contains(in.Args, "/usr/local/bin/shp") && v != ""
	}) {
		t.Error("the final stage does not COPY the binary from a build stage into /usr/local/bin/shp")
	}
	// The version is a build argument, passed to the build.
	if !slices.ContainsFunc(d.Instructions, func(in dockerInstruction) bool {
		return in.Cmd == "ARG" && strings.HasPrefix(in.Args, "VERSION")
	}) {
		t.Error("no ARG VERSION")
	}
}

// TestDockerignore checks that the build context leaves out history, build
// outputs, local state and secrets.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "bin/", ".shp/", "examples/*/.shp", "*.duckdb", "*.db", "**/node_modules", "docs/screenshots/", "*.test", "*.out", "**/.env", "**/*.pem", "**/*.tfstate", "dist/"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	// The build needs these: an exclusion of them would break it.
	for _, p := range patterns {
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "internal", "deploy", "deploy/project"} {
			if strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/") == needed {
				t.Errorf(".dockerignore excludes %s, which the build needs", p)
			}
		}
	}
}

// TestDockerfileRulesCatchBadSnippets feeds each rule a Dockerfile that
// breaks it, so that no rule can pass by checking nothing, and a good one
// that keeps every rule.
func TestDockerfileRulesCatchBadSnippets(t *testing.T) {
	const good = `FROM golang:1.26.8-bookworm AS build
ENV CGO_ENABLED=1
RUN go build -tags duckdb_arrow -trimpath -ldflags "-X github.com/shp-dev/shp/internal/cli.Version=${VERSION}" -o /out/shp ./cmd/shp
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/shp"]
`
	// runtime replaces the good file's runtime stage.
	runtime := func(s string) string {
		return good[:strings.Index(good, "FROM gcr.io")] + s
	}
	bad := map[string]string{
		"pinned-bases": `FROM node:lts AS ui
FROM golang AS build
ENV CGO_ENABLED=1
RUN go build -tags duckdb_arrow -trimpath -ldflags "-X github.com/shp-dev/shp/internal/cli.Version=1" ./cmd/shp
FROM gcr.io/distroless/cc-debian12:latest
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532
ENTRYPOINT ["/usr/local/bin/shp"]
`,
		"go-matches-go-mod": strings.Replace(good, "golang:1.26.8-bookworm", "golang:1.25.3-bookworm", 1),
		"glibc-runtime": runtime(`FROM alpine:3.22
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532
ENTRYPOINT ["/usr/local/bin/shp"]
`),
		"non-root-user": runtime(`FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532
USER root
ENTRYPOINT ["/usr/local/bin/shp"]
`),
		"exec-form": runtime(`FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532
ENTRYPOINT /usr/local/bin/shp serve
`),
		"healthcheck-works": runtime(`FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/shp /usr/local/bin/shp
USER 65532
HEALTHCHECK --interval=30s CMD curl -f http://localhost:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/shp"]
`),
		"no-add-url":      strings.Replace(good, "ENV CGO_ENABLED=1\n", "ENV CGO_ENABLED=1\nADD https://example.com/tool.tar.gz /tmp/\n", 1),
		"apt-get-hygiene": strings.Replace(good, "ENV CGO_ENABLED=1\n", "ENV CGO_ENABLED=1\nRUN apt-get update && \\\n    apt-get install -y build-essential\n", 1),
		"no-secret-names": strings.Replace(good, "ENV CGO_ENABLED=1\n", "ENV CGO_ENABLED=1\nARG GITHUB_TOKEN\nENV DB_PASSWORD=hunter2 OTHER=1\n", 1),
		"no-secret-files": strings.Replace(good, "ENV CGO_ENABLED=1\n", "ENV CGO_ENABLED=1\nCOPY .env ./\nCOPY [\"keys/sa-key.json\", \"/keys/\"]\n", 1),
		"copy-from-stage": runtime(`FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=0 /out/shp /usr/local/bin/shp
COPY --from=busybox:1.36 /bin/sh /bin/sh
USER 65532
ENTRYPOINT ["/usr/local/bin/shp"]
`),
		"go-build": strings.Replace(good, "ENV CGO_ENABLED=1\n", "", 1),
	}
	rules := dockerRules("1.26.8")
	if len(bad) != len(rules) {
		t.Fatalf("%d bad snippets for %d rules", len(bad), len(rules))
	}
	g, err := parseDockerfile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if p := r.check(g); len(p) > 0 {
				t.Errorf("the good snippet breaks it: %v", p)
			}
			src, ok := bad[r.name]
			if !ok {
				t.Fatal("no bad snippet")
			}
			d, err := parseDockerfile(src)
			if err != nil {
				t.Fatalf("parse the bad snippet: %v", err)
			}
			p := r.check(d)
			if len(p) == 0 {
				t.Errorf("the rule passed a snippet that breaks it:\n%s", src)
			}
			t.Logf("reported: %v", p)
		})
	}
	// Each flaw is reported, not only the first.
	if d, _ := parseDockerfile(bad["pinned-bases"]); len(checkPinnedBases(d)) != 3 {
		t.Errorf("pinned-bases reported %v, want node:lts, golang and :latest", checkPinnedBases(d))
	}
	d, _ := parseDockerfile(bad["no-secret-names"])
	if p := checkSecretNames(d); len(p) != 2 {
		t.Errorf("no-secret-names reported %v, want GITHUB_TOKEN and DB_PASSWORD", p)
	}
	// The secret-name rule reads words, not substrings.
	for name, want := range map[string]bool{"API_KEY": true, "GCP_SA_KEY": true, "apiKey": true, "APIKEY": true, "MONKEY_BUSINESS": false, "KEYRING_DIR": false, "PROJECT_DIR": false, "SECRET": true, "my-token": true} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestParseDockerfile checks the parser on the syntax it reads.
func TestParseDockerfile(t *testing.T) {
	cases := []struct {
		name, src string
		check     func(t *testing.T, d *dockerfile)
		wantErr   string
	}{
		{name: "continuations, comments inside, blanks after the escape",
			src: "FROM debian:12-slim\nRUN apt-get update \\  \n# a comment inside\n\n    && echo done\n",
			check: func(t *testing.T, d *dockerfile) {
				in := d.final().Instructions[0]
				if in.Cmd != "RUN" || in.Args != "apt-get update     && echo done" || in.Line != 2 {
					t.Errorf("got %s %q at line %d", in.Cmd, in.Args, in.Line)
				}
			}},
		{name: "exec and shell forms, lower-case keywords",
			src: "from debian:12-slim\nentrypoint [\"/bin/x\", \"a b\"]\ncmd echo [not json\n",
			check: func(t *testing.T, d *dockerfile) {
				e, c := d.final().Instructions[0], d.final().Instructions[1]
				if e.Cmd != "ENTRYPOINT" || !e.Exec || !slices.Equal(e.JSON, []string{"/bin/x", "a b"}) {
					t.Errorf("entrypoint: %+v", e)
				}
				if c.Exec || c.Args != "echo [not json" {
					t.Errorf("cmd: %+v", c)
				}
			}},
		{name: "a bracket that is not JSON is the shell form",
			src: "FROM debian:12-slim\nCMD [\"unterminated\"\n",
			check: func(t *testing.T, d *dockerfile) {
				if d.final().Instructions[0].Exec {
					t.Error("read as exec form")
				}
			}},
		{name: "flags",
			src: "FROM --platform=linux/amd64 golang:1.26.8 AS Build\nFROM debian:12-slim\nCOPY --from=build --chown=1:1 --link /a /b\nRUN --mount=type=cache,target=/root/.cache/go-build go build ./...\n",
			check: func(t *testing.T, d *dockerfile) {
				if d.Stages[0].Name != "build" || d.Stages[0].Base != "golang:1.26.8" {
					t.Errorf("stage 0: %+v", d.Stages[0])
				}
				c := d.final().Instructions[0]
				if v, _ := c.flag("from"); v != "build" || c.Args != "/a /b" || len(c.Flags) != 3 {
					t.Errorf("copy: %+v", c)
				}
				if _, ok := c.flag("link"); !ok {
					t.Error("--link lost")
				}
				r := d.final().Instructions[1]
				if v, _ := r.flag("mount"); v != "type=cache,target=/root/.cache/go-build" || r.Args != "go build ./..." {
					t.Errorf("run: %+v", r)
				}
			}},
		{name: "escape directive",
			src: "# escape=`\nFROM debian:12-slim\nRUN echo a `\n  b \\\n",
			check: func(t *testing.T, d *dockerfile) {
				if in := d.final().Instructions[0]; in.Args != `echo a   b \` {
					t.Errorf("got %q", in.Args)
				}
			}},
		{name: "global ARGs in FROM",
			src: "ARG GO=1.26.8\nARG BASE\nFROM golang:${GO}-bookworm AS b\nFROM ${BASE:-debian:12-slim}\n",
			check: func(t *testing.T, d *dockerfile) {
				if d.Stages[0].Base != "golang:1.26.8-bookworm" || d.Stages[1].Base != "debian:12-slim" {
					t.Errorf("bases: %s, %s", d.Stages[0].Base, d.Stages[1].Base)
				}
			}},
		{name: "here-documents",
			src: "FROM debian:12-slim\nRUN <<EOF\napt-get install -y x\n# not a comment here\nEOF\nRUN <<-\"END\" bash\n\techo hi\n\tEND\nUSER 1\n",
			check: func(t *testing.T, d *dockerfile) {
				ins := d.final().Instructions
				if len(ins) != 3 || ins[0].Heredocs[0].Body != "apt-get install -y x\n# not a comment here\n" || ins[1].Heredocs[0].Body != "echo hi\n" || ins[2].Cmd != "USER" {
					t.Errorf("got %+v", ins)
				}
			}},
		{name: "ENV forms",
			src: "FROM debian:12-slim\nENV A=1 B=\"two words\" C='x y'\nENV LEGACY some value\n",
			check: func(t *testing.T, d *dockerfile) {
				if n := envNames(d.final().Instructions[0]); !slices.Equal(n, []string{"A", "B", "C"}) {
					t.Errorf("names %v", n)
				}
				if n := envNames(d.final().Instructions[1]); !slices.Equal(n, []string{"LEGACY"}) {
					t.Errorf("names %v", n)
				}
			}},
		{name: "image references",
			src: "FROM localhost:5000/team/img:1.2@sha256:" + strings.Repeat("a", 64) + "\n",
			check: func(t *testing.T, d *dockerfile) {
				n, tag, dg := splitImage(d.final().Base)
				if n != "localhost:5000/team/img" || tag != "1.2" || !strings.HasPrefix(dg, "sha256:") {
					t.Errorf("%s %s %s", n, tag, dg)
				}
				if p := checkPinnedBases(d); p != nil {
					t.Error(p)
				}
				if _, tag, _ := splitImage("localhost:5000/img"); tag != "" {
					t.Errorf("a registry port read as tag %q", tag)
				}
			}},
		{name: "no FROM", src: "# nothing\n", wantErr: "no FROM"},
		{name: "instruction before FROM", src: "RUN x\nFROM a:1\n", wantErr: "before the first FROM"},
		{name: "unknown instruction", src: "FROM a:1\nRUNN x\n", wantErr: "unknown instruction"},
		{name: "unclosed here-document", src: "FROM a:1\nRUN <<EOF\necho\n", wantErr: "not closed"},
		{name: "stage name twice", src: "FROM a:1 AS x\nFROM b:1 AS X\n", wantErr: "used twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := parseDockerfile(c.src)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, d)
		})
	}
}
