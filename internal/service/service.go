// Package service is what shp does to pipelines, runs, quality rules and
// self-healing actions, for the command line and the REST API alike: both
// call it, so that they cannot disagree. It reads and writes the metadata
// store and the project's configuration; the warehouse only for reverts.
package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// Errors the service returns, wrapped with what failed; the API maps each
// to its status and problem type.
var (
	// ErrNotFound: no such pipeline, run, action, model or key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the thing is not in a state that allows the change
	// (approving an action that is not proposed).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the operation needs a part this process lacks (a
	// scheduler to trigger runs, a warehouse to revert).
	ErrUnavailable = errors.New("unavailable")
)

// FieldError is invalid input: which field, and why.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// invalid returns a FieldError.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Service carries what the operations need.
type Service struct {
	Project *config.Project
	Store   Store
	// Warehouse is needed by reverts only; nil elsewhere.
	Warehouse warehouse.Warehouse
	// Trigger starts a run of a pipeline with parameters and returns its
	// run id at once; nil when no scheduler runs in this process.
	Trigger func(ctx context.Context, pipeline string, params map[string]string) (string, error)
	// Queued reports a run that Trigger started and that has no record
	// yet (it waits for its turn); nil when nothing is queued here.
	Queued func(runID string) (RunView, bool)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger hears what the service lets pass (a failed bookkeeping
	// write); nil discards.
	Logger *slog.Logger

	keys      sync.Map     // API keys recently read, by id
	keyMu     sync.Mutex   // orders cache writes against forgetKey
	keyGen    atomic.Int64 // bumped by every forgetKey
	rulesOnce sync.Once
	rules     quality.Rules
	rulesErr  error
	ruleCache ruleCache // stored rules as parsed, by pipeline
	// revertMu makes a revert's check of the action's status and its
	// change of the target one step within this process (the warehouse
	// takes one writing process).
	revertMu sync.Mutex
	// costs are the warehouse cost of the runs on record, by pipeline.
	costs costTotals
	// historyPruned is when the query history was last pruned (Unix
	// nanoseconds).
	historyPruned atomic.Int64
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// pipeline returns a configured pipeline or ErrNotFound.
func (s *Service) pipeline(name string) (*config.Pipeline, error) {
	p, ok := s.Project.Pipeline(name)
	if !ok {
		return nil, fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
	}
	return p, nil
}

// notFound maps the store's ErrNotFound to the service's.
func notFound(err error) error {
	if errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("%s: %w", strings.TrimSuffix(err.Error(), ": "+metadata.ErrNotFound.Error()), ErrNotFound)
	}
	return err
}

// Page is one page of a listing; NextPageToken is empty on the last.
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// PageRequest asks for one page: PageSize items (DefaultPageSize when 0,
// at most MaxPageSize) after PageToken (a token from the previous page).
type PageRequest struct {
	PageSize  int
	PageToken string
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// size checks the page size.
func (p PageRequest) size() (int, error) {
	switch {
	case p.PageSize == 0:
		return DefaultPageSize, nil
	case p.PageSize < 0 || p.PageSize > MaxPageSize:
		return 0, invalid("page_size", "must be from 1 to %d, got %d", MaxPageSize, p.PageSize)
	}
	return p.PageSize, nil
}

// encodeToken makes a page token of a listing kind: tokens are opaque to
// clients.
func encodeToken(kind, body string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + body))
}

// decodeToken reads the body of a page token of the listing kind; "" for
// the first page.
func (p PageRequest) decodeToken(kind string) (string, error) {
	if p.PageToken == "" {
		return "", nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(p.PageToken); err == nil {
		if body, ok := strings.CutPrefix(string(b), kind+":"); ok && body != "" {
			return body, nil
		}
	}
	return "", invalid("page_token", "is not a token of this listing")
}

// rawJSON returns stored JSON text as a raw message, null when empty or
// not JSON.
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
