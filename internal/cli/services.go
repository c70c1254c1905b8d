package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
)

// services are a project's open components.
type services struct {
	project   *config.Project
	store     metadata.Store
	warehouse warehouse.Warehouse
	staging   *staging.Bucket
}

// service is the service layer over the open components, which the CLI
// shares with the REST API.
func (s *services) service() *service.Service {
	return &service.Service{Project: s.project, Store: s.store, Warehouse: s.warehouse}
}

// withService opens the project in dir and its metadata store for one
// command and hands fn the service layer over them.
func withService(ctx context.Context, dir string, fn func(*service.Service) error) error {
	svc, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer svc.close()
	return fn(svc.service())
}

// withWarehouse runs fn with the project's service, its metadata store
// and its warehouse open.
func withWarehouse(ctx context.Context, e *env, dir string, fn func(*service.Service) error) error {
	p, err := loadProject(dir)
	if err != nil {
		return err
	}
	svc, err := openServices(ctx, p, what{store: true, warehouse: true, log: e.logger()})
	if err != nil {
		return err
	}
	defer svc.close()
	return fn(svc.service())
}

// serviceErr maps a service error to the CLI's exit codes: bad input and
// unknown things are usage errors, the rest failures.
func serviceErr(err error) error {
	var coded *exitError
	if errors.As(err, &coded) {
		return err // opening the project or the store said already
	}
	var fe *service.FieldError
	if errors.As(err, &fe) || errors.Is(err, service.ErrNotFound) || errors.Is(err, service.ErrConflict) {
		return usageErr(err)
	}
	return failedErr(err)
}

// loadProject reads and checks a config folder; a bad config is a usage error.
func loadProject(dir string) (*config.Project, error) {
	p, err := config.LoadDir(dir)
	if err != nil {
		return nil, usageErr(err)
	}
	if err := p.Check(); err != nil {
		return nil, usageErr(err)
	}
	return p, nil
}

// openStore reads the project in dir and opens its metadata store, for
// the commands that only read or write the record.
func openStore(ctx context.Context, dir string) (*services, error) {
	p, err := loadProject(dir)
	if err != nil {
		return nil, err
	}
	return openServices(ctx, p, what{store: true})
}

// pipelineNamed returns the pipeline called name, or a usage error that
// lists the pipelines the project defines.
func pipelineNamed(p *config.Project, name string) (*config.Pipeline, error) {
	if pl, ok := p.Pipeline(name); ok {
		return pl, nil
	}
	return nil, usageErr(fmt.Errorf("pipeline %q is not defined in %s (have %s)", name, p.Dir, strings.Join(p.PipelineNames(), ", ")))
}

// checkFormat refuses an --format value that is not one of allowed.
func checkFormat(got string, allowed ...string) error {
	if slices.Contains(allowed, got) {
		return nil
	}
	return usageErr(fmt.Errorf("--format must be %s, not %q", strings.Join(allowed, " or "), got))
}

// what selects the components a command needs.
type what struct {
	store, warehouse, staging bool
	log                       *slog.Logger // the warehouse's own account of what it does
}

func openServices(ctx context.Context, p *config.Project, w what) (*services, error) {
	s := &services{project: p}
	var err error
	if w.store {
		md := p.Config.Metadata
		target := p.ResolvePath(md.Path)
		if md.Type == "postgres" {
			target = md.DSN
		}
		if s.store, err = metadata.Open(ctx, md.Type, target); err != nil {
			return nil, errors.Join(fmt.Errorf("open metadata store: %w", err), s.close())
		}
		// Runs a dead process left running are marked failed now, by
		// whichever command opens the store first (best effort: the reads
		// and runs that follow do it again).
		_, _ = metadata.AbandonRuns(ctx, s.store)
	}
	// Spill files of the engine and downloads of staged objects share one
	// scratch folder next to the warehouse.
	tempDir := filepath.Join(localDir(p), "tmp")
	if w.warehouse {
		wc := p.Config.Warehouse
		s.warehouse, err = warehouse.Open(ctx, wc.Type, warehouse.Options{
			Path:        p.ResolvePath(wc.Path),
			TempDir:     tempDir,
			MemoryLimit: wc.MemoryLimit,
			Threads:     wc.Threads,
			Logger:      w.log,
			Settings:    wc.Settings,
		})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("open warehouse: %w", err), s.close())
		}
	}
	if w.staging {
		if s.staging, err = staging.Open(ctx, p.StagingURL(), staging.WithTempDir(tempDir)); err != nil {
			return nil, errors.Join(fmt.Errorf("open staging bucket: %w", err), s.close())
		}
	}
	return s, nil
}

// localDir is the folder of the project's local files: the warehouse
// file's folder, or, for a warehouse that is not a file (PostgreSQL),
// the folder the DuckDB warehouse would be in (.shp of the config folder).
func localDir(p *config.Project) string {
	path := p.Config.Warehouse.Path
	if path == "" {
		path = config.DefaultWarehousePath
	}
	return filepath.Dir(p.ResolvePath(path))
}

func (s *services) close() error {
	var errs []error
	if s.staging != nil {
		errs = append(errs, s.staging.Close())
	}
	if s.warehouse != nil {
		errs = append(errs, s.warehouse.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}
