// Command flaky-api is the quick start's flaky source: an HTTP API of
// exchange rates that fails its first requests (503 twice, then 429 with
// Retry-After) before it answers, the way a real API has a bad minute.
// It writes its URL to -url-file and exits after -for.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	urlFile := flag.String("url-file", "", "write the API's URL to this file")
	fail := flag.Int("fail", 3, "requests to fail before answering")
	lifetime := flag.Duration("for", time.Minute, "exit after this long")
	flag.Parse()

	var calls atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		switch {
		case n < *fail:
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		case n == *fail:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		rates := []map[string]any{
			{"currency": "EUR", "day": "2026-01-05", "rate": 1.0},
			{"currency": "USD", "day": "2026-01-05", "rate": 1.0412},
			{"currency": "CHF", "day": "2026-01-05", "rate": 0.9381},
			{"currency": "JPY", "day": "2026-01-05", "rate": 163.52},
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"rates": rates})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte("http://"+ln.Addr().String()+"/rates"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), *lifetime)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
