package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the runtime base, gcr.io/distroless/cc-debian12, provides: Debian
// 12's libc6 2.36, and libstdc++6 and libgcc-s1 of GCC 12 (GLIBCXX_3.4.30,
// CXXABI_1.3.13, GCC_12.0.0).
var runtimeBase = struct {
	libs                           []string
	glibc, glibcxx, cxxabi, libgcc string
}{
	libs: []string{"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libresolv.so.2",
		"ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1", "libgomp.so.1"},
	glibc: "2.36", glibcxx: "3.4.30", cxxabi: "1.3.13", libgcc: "12.0.0",
}

// versionLess compares dotted versions numerically (2.9 < 2.36).
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// elfNeeds is what a dynamic executable asks of the system: its interpreter,
// its libraries (DT_NEEDED) and, per versioned prefix (GLIBC, GLIBCXX,
// CXXABI, GCC), the highest symbol version it requires.
type elfNeeds struct {
	interp  string
	libs    []string
	highest map[string]string
}

// readELFNeeds reads the version needs (.gnu.version_r) of the executable
// at path.
func readELFNeeds(path string) (elfNeeds, error) {
	f, err := elf.Open(path)
	if err != nil {
		return elfNeeds{}, err
	}
	defer f.Close()
	n := elfNeeds{highest: map[string]string{}}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return elfNeeds{}, err
			}
			n.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if f.Section(".dynamic") == nil {
		return n, nil // a static executable needs nothing
	}
	if n.libs, err = f.ImportedLibraries(); err != nil {
		return elfNeeds{}, err
	}
	needs, err := f.DynamicVersionNeeds()
	if err != nil {
		return elfNeeds{}, err
	}
	for _, need := range needs {
		for _, dep := range need.Needs {
			prefix, v, ok := strings.Cut(dep.Dep, "_")
			if !ok || v == "" || v[0] < '0' || v[0] > '9' {
				continue // GLIBC_PRIVATE and the like
			}
			if cur, seen := n.highest[prefix]; !seen || versionLess(cur, v) {
				n.highest[prefix] = v
			}
		}
	}
	return n, nil
}

// problems lists what the runtime base could not satisfy.
func (n elfNeeds) problems() []string {
	var out []string
	if n.interp != "" && n.interp != "/lib64/ld-linux-x86-64.so.2" {
		out = append(out, "interpreter "+n.interp+" is not glibc's /lib64/ld-linux-x86-64.so.2")
	}
	for _, l := range n.libs {
		if !slices.Contains(runtimeBase.libs, l) {
			out = append(out, "needs "+l+", which distroless/cc-debian12 does not have")
		}
	}
	for prefix, limit := range map[string]string{"GLIBC": runtimeBase.glibc, "GLIBCXX": runtimeBase.glibcxx, "CXXABI": runtimeBase.cxxabi, "GCC": runtimeBase.libgcc} {
		if v, ok := n.highest[prefix]; ok && versionLess(limit, v) {
			out = append(out, "needs "+prefix+"_"+v+", the runtime base has "+prefix+"_"+limit)
		}
	}
	return out
}

// TestBinaryRunsOnBaseGlibc builds ./cmd/shp as the Dockerfile does (cgo,
// -tags duckdb_arrow, the version stamped; not -trimpath, which changes
// file names in the binary but no symbol it needs, and would build DuckDB
// again instead of taking the test build's cache) and checks that the
// runtime base can run it: glibc's loader, only libraries distroless/cc has,
// and no symbol version newer than Debian 12's glibc 2.36 and GCC 12's
// libstdc++; then that it runs here (shp version prints the stamp). The
// build takes minutes (DuckDB is cgo): -short skips it.
func TestBinaryRunsOnBaseGlibc(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds shp with cgo, which takes minutes")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the image is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out := filepath.Join(t.TempDir(), "shp")
	const version = "v0.0.0-deploytest"
	cmd := exec.Command(goBin, "build", "-tags", "duckdb_arrow",
		"-ldflags", "-X github.com/shp-dev/shp/internal/cli.Version="+version, "-o", out, "./cmd/shp")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	t.Logf("built %s in %s", out, time.Since(start).Round(time.Second))

	n, err := readELFNeeds(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("interpreter %s, libraries %v, highest versions %v", n.interp, n.libs, n.highest)
	if n.interp == "" || len(n.libs) == 0 {
		t.Fatal("not a dynamic executable: built without cgo?")
	}
	if _, ok := n.highest["GLIBC"]; !ok {
		t.Fatal("no GLIBC_ symbol versions: not linked against glibc?")
	}
	if !slices.Contains(n.libs, "libstdc++.so.6") {
		t.Error("does not link libstdc++: is DuckDB in the binary?")
	}
	for _, p := range n.problems() {
		t.Error(p)
	}

	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("shp version: %v\n%s", err, v)
	}
	if got := strings.TrimSpace(string(v)); got != "shp "+version {
		t.Errorf("shp version printed %q, want %q", got, "shp "+version)
	}

	// The project the image serves validates with the environment the
	// Cloud Run service gives it (names from the Terraform module, values
	// made up: shp config validate connects to nothing).
	tree := readTree(t, terraformRoot(t))
	validate := exec.Command(out, "config", "validate", filepath.Join(repoRoot(t), "deploy", "project"))
	validate.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	for _, name := range serviceEnv(t, tree.modules["modules/shp"]) {
		value := "shp-test-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		switch name {
		case "SHP_METADATA_DSN":
			value = "host=/cloudsql/p:r:i port=5432 dbname=shp user=shp password=x sslmode=disable"
		case "TEAMS_WEBHOOK_URL":
			value = "https://example.invalid/webhook"
		case "SHP_BQ_LOCATION":
			value = "EU"
		case "SHP_BQ_DATASET", "SHP_BQ_SHP_DATASET":
			value = "shp_test"
		case "SHP_EVENTS_SUBSCRIPTION":
			value = "projects/shp-test/subscriptions/shp-landing-objects"
		}
		validate.Env = append(validate.Env, name+"="+value)
	}
	if b, err := validate.CombinedOutput(); err != nil {
		t.Errorf("shp config validate deploy/project: %v\n%s", err, b)
	}
}

// TestELFNeedsCheck checks the version check on this test binary (cgo or
// not) and on made-up needs, so that it cannot pass by reading nothing.
func TestELFNeedsCheck(t *testing.T) {
	for _, c := range []struct{ a, b string }{{"2.9", "2.36"}, {"2.35", "2.36"}, {"3.4.29", "3.4.30"}, {"1.3", "1.3.13"}} {
		if !versionLess(c.a, c.b) || versionLess(c.b, c.a) {
			t.Errorf("versionLess(%s, %s) is wrong", c.a, c.b)
		}
	}
	bad := elfNeeds{interp: "/lib/ld-musl-x86_64.so.1", libs: []string{"libc.so.6", "libduckdb.so"},
		highest: map[string]string{"GLIBC": "2.38", "GLIBCXX": "3.4.32", "CXXABI": "1.3.13"}}
	p := bad.problems()
	for _, want := range []string{"ld-musl", "libduckdb.so", "GLIBC_2.38", "GLIBCXX_3.4.32"} {
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("problems %v do not mention %s", p, want)
		}
	}
	if len(p) != 4 {
		t.Errorf("problems %v: want 4 (CXXABI_1.3.13 is fine)", p)
	}
	good := elfNeeds{interp: "/lib64/ld-linux-x86-64.so.2", libs: []string{"libc.so.6", "libstdc++.so.6"},
		highest: map[string]string{"GLIBC": "2.34", "GLIBCXX": "3.4.30"}}
	if p := good.problems(); len(p) != 0 {
		t.Errorf("good needs reported: %v", p)
	}
	// The test binary itself: readable, and a dynamic one has GLIBC needs.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	n, err := readELFNeeds(self)
	if err != nil {
		if runtime.GOOS != "linux" {
			t.Skip("not an ELF system")
		}
		t.Fatal(err)
	}
	if n.interp != "" {
		if _, ok := n.highest["GLIBC"]; !ok {
			t.Errorf("a dynamic test binary with no GLIBC needs: %+v", n)
		}
	}
}
