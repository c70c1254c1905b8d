package bigquery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"

	"github.com/shp-dev/shp/internal/warehouse/bigquery/bigqueryspec"
)

// RealProjectEnv names the Google Cloud project the tests run against
// real BigQuery in (with Application Default Credentials); without it
// they run against the emulator in-process.
const RealProjectEnv = "SHP_TEST_BIGQUERY_PROJECT"

// emulatorProject is the emulator's project.
const emulatorProject = "test"

var emu struct {
	sync.Mutex
	servers map[string]string // storage key -> URL
	gc      sync.Once
}

// emulatorURL starts a BigQuery emulator for a storage key: one server
// per key, closed when the test that made it ends. Every query of the
// emulator rebuilds a catalog of all the project's tables (a DROP TABLE
// rebuilds it), so one server for a whole suite slows down with every
// test until its analyzer (ZetaSQL compiled to Go from WebAssembly)
// runs out of its 2 GiB of memory and crashes the test binary.
func emulatorURL(t *testing.T, key string) string {
	t.Helper()
	emu.Lock()
	defer emu.Unlock()
	if u, ok := emu.servers[key]; ok {
		return u
	}
	srv, err := server.New(server.TempStorage)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Load(server.StructSource(types.NewProject(emulatorProject))); err != nil {
		t.Fatal(err)
	}
	ts := srv.TestServer()
	if emu.servers == nil {
		emu.servers = map[string]string{}
	}
	emu.servers[key] = ts.URL
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	// The analyzer keeps what each query allocated in its WebAssembly
	// memory until Go finalizers free it: frequent collections keep
	// that memory from passing 2 GiB.
	emu.gc.Do(func() {
		go func() {
			for range time.Tick(2 * time.Second) {
				runtime.GC()
			}
		}()
	})
	return ts.URL
}

// realProject is the project of the real-BigQuery mode, "" for the
// emulator.
func realProject() string { return os.Getenv(RealProjectEnv) }

// runID names this test binary's datasets in real BigQuery.
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// testConfig is the configuration of a warehouse on the storage key
// names: a targets' dataset and a dataset of shp's own.
func testConfig(t *testing.T, key string) bigqueryspec.Config {
	t.Helper()
	cfg := bigqueryspec.Config{
		Project:           emulatorProject,
		Dataset:           "ds_" + key,
		ShpDataset:        "shp_" + key,
		Location:          "US",
		Labels:            map[string]string{"test": "shp"},
		StagingExpiration: bigqueryspec.Duration(2 * time.Hour),
		JobTimeout:        bigqueryspec.Duration(2 * time.Minute),
		DirectLoads:       true,
	}
	if p := realProject(); p != "" {
		cfg.Project = p
		cfg.Dataset = "shp_test_" + runID + "_" + key
		cfg.ShpDataset = "shp_test_" + runID + "_" + key + "_shp"
		cfg.Location = os.Getenv("SHP_TEST_BIGQUERY_LOCATION")
		if cfg.Location == "" {
			cfg.Location = "US"
		}
	} else {
		cfg.Endpoint = emulatorURL(t, key)
	}
	return cfg
}

// openTest opens a warehouse on the storage key names, closed when the
// test ends; in real BigQuery its datasets are dropped then.
func openTest(t *testing.T, key string) *Warehouse {
	t.Helper()
	cfg := testConfig(t, key)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if realProject() != "" {
			dropDatasets(cfg)
		}
		_ = w.Close()
	})
	return w
}

var keySeq struct {
	sync.Mutex
	n int
}

// freshKey names a storage no other test uses.
func freshKey() string {
	keySeq.Lock()
	defer keySeq.Unlock()
	keySeq.n++
	return "t" + strings.ReplaceAll(time.Now().Format("150405"), ":", "") + "_" + string(rune('a'+keySeq.n%26)) + hex.EncodeToString([]byte{byte(keySeq.n)})
}

// dropDatasets drops a test's datasets in real BigQuery, each call
// bounded (the client retries a failing delete until its deadline).
func dropDatasets(cfg bigqueryspec.Config) {
	ctx := context.Background()
	c, err := bq.NewClient(ctx, cfg.Project)
	if err != nil {
		return
	}
	defer c.Close()
	for _, ds := range []string{cfg.Dataset, cfg.ShpDataset} {
		if !strings.HasPrefix(ds, "shp_test_") {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		_ = c.Dataset(ds).DeleteWithContents(cctx)
		cancel()
	}
}
