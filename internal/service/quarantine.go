package service

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/shp-dev/shp/internal/metadata"
)

// QuarantinedRow is one row a run set aside: where it came from, why, and
// the row as read.
type QuarantinedRow struct {
	Object string `json:"source_object"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
	// State is "committed" (in the target's quarantine table) or "not
	// committed" (kept with a run that failed or was held).
	State string `json:"state"`
}

// QuarantinePage is one page of a run's set-aside rows, ordered by object
// and line.
type QuarantinePage struct {
	Rows   []QuarantinedRow `json:"rows"`
	Offset int              `json:"offset"`
	// More says rows follow this page.
	More bool `json:"more"`
}

// Quarantined reads one page of the rows a run set aside: from its
// target's quarantine when the run committed, from the warehouse's
// set-aside table when it did not. It needs the warehouse.
func (s *Service) Quarantined(ctx context.Context, runID string, offset, limit int) (QuarantinePage, error) {
	if offset < 0 {
		return QuarantinePage{}, invalid("offset", "must be 0 or more")
	}
	if limit < 1 || limit > MaxPageSize {
		return QuarantinePage{}, invalid("limit", "must be from 1 to %d", MaxPageSize)
	}
	if s.Warehouse == nil {
		return QuarantinePage{}, fmt.Errorf("quarantined rows: %w: no warehouse is open in this process", ErrUnavailable)
	}
	r, err := s.Store.GetRun(ctx, runID)
	if err != nil {
		return QuarantinePage{}, notFound(err)
	}
	page := QuarantinePage{Rows: []QuarantinedRow{}, Offset: offset}
	err = s.eachQuarantined(ctx, r, func(i int, row QuarantinedRow) bool {
		if i < offset {
			return true
		}
		if len(page.Rows) == limit {
			page.More = true
			return false
		}
		page.Rows = append(page.Rows, row)
		return true
	})
	return page, err
}

// eachQuarantined calls f with each row a run set aside, in order, until
// f returns false.
func (s *Service) eachQuarantined(ctx context.Context, r metadata.Run, f func(i int, row QuarantinedRow) bool) error {
	target := ""
	if p, ok := s.Project.Pipeline(r.Pipeline); ok && r.Status == metadata.StatusSucceeded && r.RowsQuarantined > 0 {
		target = p.Target
	}
	rows, err := s.Warehouse.QuarantinedRows(ctx, r.ID, target)
	if err != nil {
		return fmt.Errorf("quarantined rows of run %s: %w", r.ID, err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		var object, reason, raw, state any
		var line any
		if err := rows.Scan(&object, &line, &reason, &raw, &state); err != nil {
			return fmt.Errorf("quarantined rows of run %s: %w", r.ID, err)
		}
		row := QuarantinedRow{Object: text(object), Reason: text(reason), Raw: text(raw), State: text(state)}
		fmt.Sscan(text(line), &row.Line)
		if !f(i, row) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quarantined rows of run %s: %w", r.ID, err)
	}
	return nil
}

// text renders a scanned value.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// ReasonCount is how many rows were set aside for one kind of reason.
type ReasonCount struct {
	Pipeline string `json:"pipeline"`
	// Reason is the reason's kind: its text before the first ": " (CAST
	// (column quantity), MISSING COLUMNS (...), a rule's name).
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
}

// QuarantineReasons counts the rows set aside by the last runs (at most
// runs per pipeline; of one pipeline, or all) by the kind of their
// reason, most first. It reads at most maxRows rows per run.
func (s *Service) QuarantineReasons(ctx context.Context, pipeline string, runs, maxRows int) ([]ReasonCount, error) {
	if s.Warehouse == nil {
		return nil, fmt.Errorf("quarantine reasons: %w: no warehouse is open in this process", ErrUnavailable)
	}
	if maxRows < 1 || runs < 1 {
		return nil, invalid("runs", "runs and rows per run must be 1 or more")
	}
	names := []string{pipeline}
	if pipeline == "" {
		names = s.Project.PipelineNames()
	} else if _, err := s.pipeline(pipeline); err != nil {
		return nil, err
	}
	type key struct{ pipeline, reason string }
	counts := map[key]int64{}
	for _, name := range names {
		rs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: name, Limit: runs})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.RowsQuarantined == 0 || r.Status == metadata.StatusRunning {
				continue
			}
			err := s.eachQuarantined(ctx, r, func(i int, row QuarantinedRow) bool {
				kind, _, _ := strings.Cut(row.Reason, ": ")
				counts[key{name, kind}]++
				return i+1 < maxRows
			})
			if err != nil {
				return nil, err
			}
		}
	}
	out := make([]ReasonCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, ReasonCount{Pipeline: k.pipeline, Reason: k.reason, Rows: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rows != out[j].Rows {
			return out[i].Rows > out[j].Rows
		}
		if out[i].Pipeline != out[j].Pipeline {
			return out[i].Pipeline < out[j].Pipeline
		}
		return out[i].Reason < out[j].Reason
	})
	return out, nil
}
