// Package bqemulator starts the BigQuery emulator
// (github.com/goccy/bigquery-emulator) in a test's process, for the
// tests that run shp against BigQuery without the internet. It links the
// emulator (a long first build, about 6 GB): import it only from tests
// that need it.
package bqemulator

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"
)

var collecting sync.Once

// Start serves an empty emulator project over HTTP until the test ends
// and returns its URL (config.yaml's warehouse endpoint).
func Start(t testing.TB, project string) string {
	t.Helper()
	srv, err := server.New(server.TempStorage)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Load(server.StructSource(types.NewProject(project))); err != nil {
		t.Fatal(err)
	}
	ts := srv.TestServer()
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	// The emulator's analyzer (ZetaSQL compiled to Go from WebAssembly)
	// frees what each query allocated only in Go finalizers and crashes
	// once its memory passes 2 GiB: frequent collections keep it under.
	collecting.Do(func() {
		go func() {
			for range time.Tick(2 * time.Second) {
				runtime.GC()
			}
		}()
	})
	return ts.URL
}
