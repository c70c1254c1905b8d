package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
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

// what selects the components a command needs.
type what struct{ store, warehouse, staging bool }

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
	}
	// Spill files of the engine and downloads of staged objects share one
	// scratch folder next to the warehouse.
	tempDir := filepath.Join(filepath.Dir(p.ResolvePath(p.Config.Warehouse.Path)), "tmp")
	if w.warehouse {
		wc := p.Config.Warehouse
		s.warehouse, err = warehouse.Open(ctx, wc.Type, warehouse.Options{
			Path:        p.ResolvePath(wc.Path),
			TempDir:     tempDir,
			MemoryLimit: wc.MemoryLimit,
			Threads:     wc.Threads,
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
