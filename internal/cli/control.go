package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/scheduler"
)

// The embedded warehouse has one writer: while `shp serve` holds it, the
// commands that need it (run, query) hand their work to the server over a
// Unix socket next to the warehouse file. A request is one JSON line; the
// reply is the command's output, then a NUL byte and a JSON trailer with
// the exit code.

type controlRequest struct {
	Op          string   `json:"op"` // query, quarantine or run
	SQL         string   `json:"sql,omitempty"`
	RunID       string   `json:"run_id,omitempty"` // quarantine: the run
	Target      string   `json:"target,omitempty"` // quarantine: its committed target, or ""`
	Format      string   `json:"format,omitempty"`
	Limit       int      `json:"limit,omitempty"`
	Pipelines   []string `json:"pipelines,omitempty"`
	FullRefresh bool     `json:"full_refresh,omitempty"`
}

type controlTrailer struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// controlPath is where a project's server listens.
func controlPath(p *config.Project) string {
	return filepath.Join(localDir(p), "serve.sock")
}

// serveControl answers requests until ctx is done.
func serveControl(ctx context.Context, e *env, o *orchestrator, path string) (func(), error) {
	_ = os.Remove(path) // a socket left by a server that died
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Only the user running the server may hand it work: it runs SQL.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("protect %s: %w", path, err)
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go o.handleControl(ctx, e, conn)
		}
	}()
	return func() { l.Close(); os.Remove(path) }, nil
}

func (o *orchestrator) handleControl(ctx context.Context, e *env, conn net.Conn) {
	defer conn.Close()
	var req controlRequest
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	out := &env{stdout: conn, stderr: io.Discard, quiet: true}
	code := ExitOK
	if err == nil {
		err = o.control(ctx, out, req)
	}
	msg := ""
	if err != nil {
		code = ExitFailed
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		msg = err.Error()
	}
	b, _ := json.Marshal(controlTrailer{Code: code, Error: msg})
	conn.Write(append([]byte{0}, b...))
}

func (o *orchestrator) control(ctx context.Context, e *env, req controlRequest) error {
	switch req.Op {
	case "query", "quarantine":
		o.runMu.Lock()
		defer o.runMu.Unlock()
		return writeRequestRows(ctx, e, o.svc.warehouse, req, o.svc.service())
	case "run":
		var jobs []scheduler.Job
		now := time.Now().UTC().Truncate(time.Second)
		for _, name := range req.Pipelines {
			jobs = append(jobs, scheduler.Job{Pipeline: name, Interval: scheduler.Interval{Start: now, End: now}, Trigger: scheduler.TriggerManual,
				FullRefresh: req.FullRefresh})
		}
		var results []*pipeline.Result
		err := o.waitJobs(ctx, jobs)
		for _, j := range jobs {
			o.mu.Lock()
			if r := o.result[resultKey(j.Pipeline, j.Interval.Start)]; r != nil {
				results = append(results, r)
			}
			o.mu.Unlock()
		}
		if req.Format == "json" {
			if werr := writeJSON(e.stdout, resultsJSON(results)); werr != nil {
				return werr
			}
		} else {
			for _, r := range results {
				printSummary(e.stdout, r, "")
			}
		}
		for _, r := range results {
			if r.Err != nil {
				return failedErr(fmt.Errorf("pipeline %s: %w", r.Pipeline, r.Err))
			}
		}
		return err
	}
	return usageErr(fmt.Errorf("unknown request %q", req.Op))
}

// waitJobs runs jobs through the scheduler and waits until each has a
// final status on record; under serve, the other runs in flight do not
// hold it up.
func (o *orchestrator) waitJobs(ctx context.Context, jobs []scheduler.Job) error {
	if err := o.sched.Enqueue(ctx, jobs...); err != nil {
		return failedErr(err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for _, j := range jobs {
			c, found, err := o.svc.store.GetClaim(ctx, j.Pipeline, j.Interval.Start)
			if err != nil {
				return failedErr(err)
			}
			if !found || c.Status == metadata.StatusRunning || c.Status == metadata.StatusQueued {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// forward hands a command to the project's running server, if there is
// one. It reports whether it did.
func forward(ctx context.Context, e *env, p *config.Project, req controlRequest) (bool, error) {
	path := controlPath(p)
	if _, err := os.Stat(path); err != nil {
		return false, nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return false, nil // a socket left by a server that is gone
	}
	defer conn.Close()
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return true, failedErr(fmt.Errorf("hand the command to shp serve: %w", err))
	}
	all, err := io.ReadAll(conn)
	if err != nil {
		return true, failedErr(fmt.Errorf("read the answer of shp serve: %w", err))
	}
	i := bytes.LastIndexByte(all, 0)
	if i < 0 {
		return true, failedErr(fmt.Errorf("shp serve closed the connection without an answer"))
	}
	e.stdout.Write(all[:i])
	var tr controlTrailer
	if err := json.Unmarshal(all[i+1:], &tr); err != nil {
		return true, failedErr(fmt.Errorf("bad answer from shp serve: %w", err))
	}
	if tr.Code != ExitOK {
		return true, &exitError{code: tr.Code, err: errors.New(tr.Error)}
	}
	return true, nil
}
