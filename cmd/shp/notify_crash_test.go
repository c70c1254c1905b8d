package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKilledDeliveryIsDeliveredOnce kills `shp alerts evaluate` with
// SIGKILL while it is sending a notification to a webhook, then runs it
// again: the notification arrives once, under the same idempotency key,
// and later cycles send nothing more.
func TestKilledDeliveryIsDeliveredOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	var mu sync.Mutex
	keys := map[string]int{} // idempotency key -> requests answered 2xx
	requests := 0
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		arrived <- struct{}{}
		if first {
			<-release // the sender dies while this request hangs
			return
		}
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()
	defer close(release)

	bin := buildShp(t)
	dir := filepath.Join(t.TempDir(), "proj")
	if out, err := exec.Command(bin, "init", dir).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	monitoring := "group_wait: 0s\ndelivery_timeout: 2s\nreceivers:\n  - name: hook\n    type: webhook\n    url: " + hook.URL + "/alerts\n"
	if err := os.WriteFile(filepath.Join(dir, "monitoring.yaml"), []byte(monitoring), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "run", "--quiet", "--config", dir).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "alerts", "evaluate", "--config", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no notification arrived")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The dead process's claim lasts the delivery timeout and a margin;
	// then the next cycle sends the notification.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(bin, "alerts", "evaluate", "--config", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("evaluate: %v\n%s", err, out)
		}
		mu.Lock()
		n := len(keys)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after the restart: %s", out)
		}
		time.Sleep(time.Second)
	}
	for range 2 {
		if out, err := exec.Command(bin, "alerts", "evaluate", "--config", dir).CombinedOutput(); err != nil {
			t.Fatalf("evaluate: %v\n%s", err, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 || requests != 2 {
		t.Fatalf("%d requests, delivered keys %v: want the killed try and one delivery", requests, keys)
	}
	for k, n := range keys {
		if n != 1 || !strings.Contains(k, "/0/firing/hook") {
			t.Fatalf("key %q delivered %d times", k, n)
		}
	}
	out, err := exec.Command(bin, "alerts", "notifications", "--config", dir).CombinedOutput()
	if err != nil || strings.Count(string(out), "sent") != 1 || strings.Contains(string(out), "pending") {
		t.Fatalf("outbox: %v\n%s", err, out)
	}
}
