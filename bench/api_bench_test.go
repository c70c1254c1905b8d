package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// apiSeconds is how long each endpoint is loaded: 10 seconds unless
// SHP_BENCH_API_SECONDS says otherwise.
func apiSeconds() time.Duration { return envSeconds("SHP_BENCH_API_SECONDS", 10*time.Second) }

// loadResult is what a load of one endpoint measured.
type loadResult struct {
	requests, errors int
	took             time.Duration
	p50, p99, max    time.Duration
}

// load sends GETs of path from conns concurrent connections for d.
func load(client *http.Client, url, key string, conns int, d time.Duration) loadResult {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+key)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					bad++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	return loadResult{requests: len(lat), errors: errs, took: time.Since(start), p50: q(0.50), p99: q(0.99), max: lat[len(lat)-1]}
}

// BenchmarkAPI loads GET /api/v1/pipelines/{id} and GET
// /api/v1/healing/actions (10,000 actions on record) with 50 concurrent
// connections on loopback, against GET /healthz (no authentication, no
// store) as the baseline of the same HTTP stack in the same run.
func BenchmarkAPI(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: bench\npipelines:\n  orders:\n    source: files\n    mode: merge\n    key: [id]\n    schedule: \"0 2 * * *\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*.csv\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte("pipelines:\n  orders:\n    rules:\n      - expectation: expect_column_values_to_not_be_null\n        kwargs: {column: id}\n"), 0o644)
	p, err := config.LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("run-%02d", i)
		at := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour)
		store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: "orders", StartedAt: at})
		store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(time.Minute), RowsIn: 1000, Metrics: map[string]float64{"quality_score": 99}})
	}
	for i := 0; i < 10_000; i++ {
		status := []string{"applied", "proposed", "escalated", "rolled_back"}[i%4]
		if _, err := store.RecordAction(ctx, metadata.HealingAction{RunID: fmt.Sprintf("run-%02d", i%30), Pipeline: "orders", ObjectKey: "day.csv",
			Strategy: "normalize_to_value_set", Status: status, Issue: "rule expect_column_values_to_be_in_set(region) failed: 3 unexpected values",
			Category: "value_set_drift", Confidence: 0.95, Params: `{"column":"region"}`, Before: `[" emea"]`, After: `["EMEA"]`}); err != nil {
			b.Fatal(err)
		}
	}
	svc := &service.Service{Project: p, Store: store}
	key, _, err := svc.CreateKey(ctx, "bench", service.Viewer, 0, "bench")
	if err != nil {
		b.Fatal(err)
	}
	cfg := p.Config.API
	cfg.RateLimit = 0 // one key sends everything
	srv := &api.Server{Service: svc, Config: cfg}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := api.NewHTTPServer(ln.Addr().String(), srv.Handler())
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	const conns = 50
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}, Timeout: 10 * time.Second}
	d := apiSeconds()
	b.ResetTimer()
	var results []loadResult
	names := []string{"GET /healthz (baseline)", "GET /api/v1/pipelines/orders", "GET /api/v1/healing/actions"}
	for i := 0; i < b.N; i++ {
		results = []loadResult{
			load(client, base+"/healthz", key, conns, d),
			load(client, base+"/api/v1/pipelines/orders", key, conns, d),
			load(client, base+"/api/v1/healing/actions", key, conns, d),
		}
	}
	b.StopTimer()
	fmt.Printf("\n%-32s %10s %10s %10s %10s %10s %8s\n", fmt.Sprintf("%d conns, %s each", conns, d), "requests", "req/s", "p50", "p99", "max", "errors")
	for i, r := range results {
		rps := float64(r.requests) / r.took.Seconds()
		fmt.Printf("%-32s %10d %10.0f %10s %10s %10s %8d\n", names[i], r.requests, rps, r.p50.Round(10*time.Microsecond),
			r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond), r.errors)
	}
	base0 := float64(results[0].requests) / results[0].took.Seconds()
	for i, r := range results[1:] {
		rps := float64(r.requests) / r.took.Seconds()
		fmt.Printf("%s: %.2fx the baseline's throughput; p99 %s (target < 50ms, no errors)\n", names[i+1], rps/base0, r.p99.Round(10*time.Microsecond))
		b.ReportMetric(float64(r.p99.Microseconds())/1000, "ms_p99_"+strconv.Itoa(i+1))
	}
}
