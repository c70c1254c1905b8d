package main

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shp-dev/shp/internal/testutil"
)

// TestDashboardsInABrowser runs the quick start, serves it with the real
// binary and drives headless Chromium through the web UI: every dashboard
// renders with its charts drawn and no console error (a refused inline
// script or style shows there), an operator approves a waiting proposal
// with the keyboard and sees the run it held resume and succeed, and a
// viewer sees no buttons. With SHP_SCREENSHOTS=DIR the dashboards'
// screenshots are written there (make screenshots: docs/screenshots).
func TestDashboardsInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives Chromium; skipped with -short")
	}
	chromium := testutil.Tool(t, "chromium")
	bin := buildShp(t)
	dir := filepath.Join(t.TempDir(), "quickstart")
	copyTree(t, filepath.Join("..", "..", "examples", "quickstart"), dir)
	shp := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--config", dir)...).CombinedOutput()
		if err != nil {
			t.Fatalf("shp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The quick start's history: its run, then the alerts it raises.
	shp("run", "--full-refresh")
	shp("alerts", "evaluate")
	operatorKey := keyOf(t, shp("apikey", "create", "--name", "ana", "--role", "operator"))
	viewerKey := keyOf(t, shp("apikey", "create", "--name", "vic", "--role", "viewer"))

	// From now on the value-set repair waits for a person, for up to two
	// minutes, and a new file needs it.
	policy := filepath.Join(dir, "self_healing.yaml")
	b, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^\s*- normalize_to_value_set.*\n`).ReplaceAll(b, nil)
	b = append(b, "approval_timeout: 2m\n"...)
	if err := os.WriteFile(policy, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Day 6: day 4's orders again under new ids, " emea" and all.
	day4, err := os.ReadFile(filepath.Join(dir, "data", "sales_2026-01-04.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(day4), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		id, rest, _ := strings.Cut(lines[i], ",")
		n, err := strconv.Atoi(id)
		if err != nil {
			t.Fatalf("day 4, line %d: %v", i+1, err)
		}
		lines[i] = strconv.Itoa(n+50000) + "," + rest
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "sales_2026-01-06.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	base := startServe(t, bin, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000),
		// This machine's network is closed: no QUIC, no component updates.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	must(t, chromedp.Do(browser)) // starts the browser

	shots := os.Getenv("SHP_SCREENSHOTS")

	t.Run("operator", func(t *testing.T) {
		tab, done := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer done()
		console := collectConsole(tab)
		signIn(t, tab, base, operatorKey)

		// dashboards visits the four dashboards: each renders its charts;
		// with shoot, the screenshots are taken.
		dashboards := func(shoot bool) {
			t.Helper()
			for _, d := range []struct{ path, title, shot string }{
				{"/", "Pipeline Overview", "overview.png"},
				{"/quality", "Data Quality", "quality.png"},
				{"/healing", "Self-Healing Activity", "healing.png"},
				{"/performance", "Performance", "performance.png"},
			} {
				must(t, chromedp.Do(tab, chromedp.Navigate(base+d.path), chromedp.WaitVisible(chromedp.CSS("main h1"))))
				h1 := mustRun(t, tab, chromedp.Text(chromedp.CSS("main h1")))
				if h1 != d.title {
					t.Errorf("%s: heading %q, want %q", d.path, h1, d.title)
				}
				// Every chart with data is drawn: a uPlot canvas in each.
				plots := mustRun(t, tab, chromedp.Evaluate[int](`document.querySelectorAll(".plot[data-spec]").length`))
				if plots == 0 {
					t.Errorf("%s: no chart with data after the quick start's run", d.path)
				}
				mustRun(t, tab, chromedp.Poll[bool](`document.querySelectorAll(".plot[data-spec]").length === document.querySelectorAll(".plot[data-drawn=true] .uplot canvas").length`,
					chromedp.WithPollingTimeout(10*time.Second)))
				// Nothing is wider than the window: no sideways scrolling.
				if wide := mustRun(t, tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); wide > 0 {
					t.Errorf("%s: the page is %dpx wider than the window", d.path, wide)
				}
				if shoot && shots != "" {
					png := mustRun(t, tab, chromedp.FullScreenshot(100))
					must(t, os.WriteFile(filepath.Join(shots, d.shot), png, 0o644))
				}
			}
		}
		dashboards(false)
		// The overview lists the quick start's pipeline with its run.
		overview := mustRun(t, tab, chromedp.Evaluate[string](`fetch("/").then(r => r.text())`, chromedp.EvalAwaitPromise))
		if !strings.Contains(overview, `href="/pipelines/sales"`) || !strings.Contains(overview, "s-succeeded") {
			t.Errorf("the overview does not show the sales pipeline's succeeded run")
		}

		// Run now: the run waits for a decision on the value-set repair.
		must(t, chromedp.Do(tab, chromedp.Navigate(base+"/pipelines/sales"), chromedp.Click(chromedp.CSS(`form[action="/pipelines/sales/run"] button`))))
		runURL := waitLocation(t, tab, "/runs/")

		// The proposal comes into the queue; the operator approves it with
		// the keyboard: a note, Tab to the Approve button, Enter.
		var id string
		deadline := time.Now().Add(90 * time.Second)
		for id == "" && time.Now().Before(deadline) {
			must(t, chromedp.Do(tab, chromedp.Navigate(base+"/healing"), chromedp.WaitVisible(chromedp.CSS("main h1"))))
			id = mustRun(t, tab, chromedp.Evaluate[string](`(document.querySelector("form.decide[action$='/approve']") || {getAttribute: () => ""}).getAttribute("action")`))
			if id == "" {
				time.Sleep(time.Second)
			}
		}
		if id == "" {
			t.Fatal("no proposal came into the queue")
		}
		num := strings.Split(id, "/")[3]
		must(t, chromedp.Do(tab,
			chromedp.Focus(chromedp.ID("approve-reason-"+num)),
			chromedp.SendKeys(chromedp.ID("approve-reason-"+num), "regions fold to the set"),
			chromedp.KeyEvent("\t"),
		))
		focused := mustRun(t, tab, chromedp.Evaluate[string](`document.activeElement.textContent`))
		if focused != "Approve #"+num {
			t.Fatalf("Tab from the note focused %q, want the Approve button", focused)
		}
		must(t, chromedp.Do(tab, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(".flash"))))
		flash := mustRun(t, tab, chromedp.Text(chromedp.CSS(".flash")))
		if flash != "Action #"+num+" approved." {
			t.Errorf("after approving: %q", flash)
		}
		// The run resumes with the repair and succeeds.
		must(t, chromedp.Do(tab, chromedp.Navigate(runURL)))
		mustRun(t, tab, chromedp.Poll[bool](`document.querySelector("dl.facts .status") && document.querySelector("dl.facts .status").textContent.includes("succeeded")`,
			chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(500*time.Millisecond)))
		if shots != "" {
			png := mustRun(t, tab, chromedp.FullScreenshot(100))
			must(t, os.WriteFile(filepath.Join(shots, "run.png"), png, 0o644))
		}
		page := mustRun(t, tab, chromedp.Text(chromedp.CSS("main")))
		if !strings.Contains(page, "normalize_to_value_set") || !strings.Contains(page, "approved") && !strings.Contains(page, "applied") {
			t.Errorf("the run page does not show the approved repair:\n%s", page)
		}
		// The dashboards again, with this run in their history.
		dashboards(true)
		for _, m := range console.errors() {
			t.Errorf("console: %s", m)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		tab, done := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer done()
		console := collectConsole(tab)
		signIn(t, tab, base, viewerKey)
		for _, path := range []string{"/healing", "/pipelines/sales", "/alerts"} {
			must(t, chromedp.Do(tab, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main h1"))))
			// Sign out is the viewer's one form.
			n := mustRun(t, tab, chromedp.Evaluate[int](`document.querySelectorAll("main form[method=post], main button.approve, main button.reject").length`))
			if n != 0 {
				t.Errorf("%s: a viewer sees %d operator forms", path, n)
			}
		}
		for _, m := range console.errors() {
			t.Errorf("console: %s", m)
		}
	})
}

// consoleLog keeps what a tab wrote to its console.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func collectConsole(ctx context.Context) *consoleLog {
	l := &consoleLog{}
	// Subscribing needs the tab: an empty run starts it.
	_ = chromedp.Do(ctx)
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
		}
	}()
	return l
}

// errors are the errors and exceptions seen so far.
func (l *consoleLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			out = append(out, m.URL+": "+m.String())
		}
	}
	return out
}

func signIn(t *testing.T, tab context.Context, base, key string) {
	t.Helper()
	must(t, chromedp.Do(tab,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.CSS("nav[aria-label=Dashboards]")),
	))
}

// waitLocation waits for the tab to arrive at a path that starts with
// prefix, and returns its URL.
func waitLocation(t *testing.T, tab context.Context, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		loc, err := chromedp.Run(tab, chromedp.Location())
		if err == nil {
			if i := strings.Index(loc, "://"); i >= 0 {
				if j := strings.Index(loc[i+3:], "/"); j >= 0 && strings.HasPrefix(loc[i+3+j:], prefix) {
					return loc
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the browser did not arrive at %s...", prefix)
	return ""
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var keyPattern = regexp.MustCompile(`shp_\S+`)

func keyOf(t *testing.T, out string) string {
	t.Helper()
	k := keyPattern.FindString(out)
	if k == "" {
		t.Fatalf("no key in %q", out)
	}
	return k
}

// startServe starts shp serve on a free port and returns the web UI's
// address; the process is stopped when the test ends.
func startServe(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", dir, "--api-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		ui := regexp.MustCompile(`web UI on (http://\S+)/ `)
		for sc.Scan() {
			if m := ui.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case base := <-found:
		return base
	case <-time.After(30 * time.Second):
		t.Fatal("shp serve did not say where its web UI is")
	}
	return ""
}

// copyTree copies a folder, leaving out its .shp state.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if d.Name() == ".shp" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
