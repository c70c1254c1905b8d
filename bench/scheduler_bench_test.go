package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/scheduler"
)

// schedSeconds is how long the scheduler benchmark runs: 60 seconds
// unless SHP_BENCH_SCHED_SECONDS says otherwise.
func schedSeconds() time.Duration { return envSeconds("SHP_BENCH_SCHED_SECONDS", time.Minute) }

// envSeconds is the whole number of seconds an environment variable says,
// else def.
func envSeconds(name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return def
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// trivial is the work each task does.
func trivial(n *int64) { *n++ }

// BenchmarkScheduler runs 1,000 pipelines on one-second schedules with the
// real scheduler and a SQLite metadata store, and reports how late runs
// start (p50, p99) and the scheduler's CPU per task, against the same
// trivial work called directly.
func BenchmarkScheduler(b *testing.B) {
	const pipelines = 1000
	dir := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("project: bench\npipelines:\n")
	for i := 0; i < pipelines; i++ {
		fmt.Fprintf(&cfg, "  p%04d: {source: s, schedule: '@every 1s', max_active_runs: 1}\n", i)
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s: {type: file, path: x}\n"), 0o644)
	p, err := config.LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	store, err := metadata.Open(context.Background(), "sqlite", filepath.Join(dir, "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()

	// Direct: the same work, called in a loop.
	var counter int64
	const directN = 10_000_000
	start := time.Now()
	for i := 0; i < directN; i++ {
		trivial(&counter)
	}
	direct := time.Since(start) / directN

	var mu sync.Mutex
	var delays []time.Duration
	s := &scheduler.Scheduler{
		Project: p, Store: store, Owner: "bench", MaxConcurrent: pipelines,
		Execute: func(_ context.Context, j scheduler.Job) error {
			d := time.Since(j.Interval.End)
			var n int64
			trivial(&n)
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
			return nil
		},
	}
	d := schedSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b.ResetTimer()
	cpu0 := cpuTime()
	if err := s.Serve(ctx, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	if len(delays) == 0 {
		b.Fatal("no task ran")
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	pct := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }
	perTask := cpu / time.Duration(len(delays))
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99_delay_ms")
	b.ReportMetric(float64(perTask.Microseconds())/1000, "cpu_ms_per_task")
	fmt.Printf("\n%d pipelines every second for %s: %d tasks (%.0f/s)\n", pipelines, d, len(delays), float64(len(delays))/d.Seconds())
	fmt.Printf("%-44s %12s\n", "direct call of the task", direct)
	fmt.Printf("%-44s %12s\n", "scheduler CPU per task (claims, records)", perTask.Round(time.Microsecond))
	fmt.Printf("%-44s %12s %12s %12s\n", "start delay after the fire time", "p50 "+pct(0.5).Round(time.Millisecond).String(),
		"p99 "+pct(0.99).Round(time.Millisecond).String(), "max "+delays[len(delays)-1].Round(time.Millisecond).String())
	fmt.Printf("targets: p99 delay < 100ms, overhead < 5ms per task\n\n")
}
