package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/web"
)

// apiServer builds the REST API over the orchestrator's open components:
// a trigger enqueues a manual job on its scheduler under a run id chosen
// now, which the API answers with.
//
// With ui, the web UI (internal/web) is served beside it: its sign-in
// through OpenID Connect too when api.oidc.redirect_url is set.
func (o *orchestrator) apiServer(ctx context.Context, e *env, ui bool) (*api.Server, error) {
	p := o.svc.project
	svc := o.svc.service()
	var mu sync.Mutex
	type queuedRun struct {
		view service.RunView
		at   time.Time
	}
	queued := map[string]queuedRun{}
	svc.Queued = func(runID string) (service.RunView, bool) {
		mu.Lock()
		defer mu.Unlock()
		q, ok := queued[runID]
		return q.view, ok
	}
	svc.Trigger = func(ctx context.Context, name string, params map[string]string) (string, error) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		runID := pipeline.NewRunID(now)
		mu.Lock()
		// Shown until the run has its own record (read first); entries
		// older than a day are dropped.
		for id, q := range queued {
			if now.Sub(q.at) > 24*time.Hour {
				delete(queued, id)
			}
		}
		queued[runID] = queuedRun{view: service.RunView{ID: runID, Pipeline: name, Status: metadata.StatusQueued, Trigger: scheduler.TriggerManual,
			Attempt: 1, Metrics: map[string]float64{}}, at: now}
		mu.Unlock()
		job := scheduler.Job{Pipeline: name, Interval: scheduler.Interval{Start: now, End: now}, Trigger: scheduler.TriggerManual,
			Params: params, RunID: runID}
		// The run goes on after the request: it must not end with it.
		if err := o.sched.Enqueue(context.WithoutCancel(ctx), job); err != nil {
			mu.Lock()
			delete(queued, runID)
			mu.Unlock()
			return "", err
		}
		return runID, nil
	}
	srv := &api.Server{Service: svc, Config: p.Config.API, Logger: e.logger(), AccessLog: accessLogger(e, p.Config.API), Metrics: o.metricsReg, Ready: func(ctx context.Context) error {
		_, err := o.svc.store.ListPipelines(ctx)
		return err
	}}
	if p.Config.API.OIDC.Issuer != "" {
		v, err := api.NewOIDCVerifier(ctx, p.Config.API.OIDC)
		if err != nil {
			return nil, err
		}
		srv.Tokens = v
	}
	if ui {
		w := &web.UI{Service: svc, Logger: e.logger(), ClientAddr: srv.ClientAddr}
		// Freshness as the stale rule sees it (a monitoring.yaml the
		// engine refuses leaves the schedule's limit).
		if mc, problems := monitor.ParseConfig(p.Monitoring); len(problems) == 0 {
			w.StaleLimit = func(pipeline string, s *scheduler.Schedule, now time.Time) time.Duration {
				l, _ := mc.StaleLimit(pipeline, s, now)
				return l
			}
		}
		if cfg := p.Config.API.OIDC; cfg.Issuer != "" && cfg.RedirectURL != "" {
			login, err := web.NewOIDCLogin(ctx, cfg, func(subject string, claims map[string]any) (service.Principal, error) {
				return api.ClaimsPrincipal(cfg, subject, claims)
			})
			if err != nil {
				return nil, err
			}
			w.OIDC = login
		}
		srv.UI = w
	}
	return srv, nil
}

// accessLogger is where the API's access log goes: the structured log of
// --verbose, or under api.access_log alone stderr in the same format at
// Info; nil (no access log) otherwise.
func accessLogger(e *env, cfg config.API) *slog.Logger {
	switch {
	case e.verbose:
		return e.logger()
	case cfg.AccessLog:
		return slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	return nil
}

// serveAPI listens on addr and serves the API until ctx is done; it
// returns once the listener is open, and a function that stops it.
func serveAPI(ctx context.Context, e *env, srv *api.Server, addr string) (stop func(), bound string, err error) {
	cfg := srv.Config
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	hs := api.NewHTTPServer(addr, srv.Handler())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if cfg.TLSCert != "" {
			err = hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			err = hs.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(e.stderr, "shp serve: api: %v\n", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
		srv.Flush(sctx)
	}, ln.Addr().String(), nil
}

// browserHost is the address a browser should use for a bound listener:
// localhost for a loopback or unspecified host (browsers keep the
// session's Secure cookie on localhost without TLS), the address
// otherwise.
func browserHost(bound string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return net.JoinHostPort("localhost", port)
	}
	return bound
}
