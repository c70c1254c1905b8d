package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// Refused anonymous writes are not stored one by one: anyone may send
// them, as fast as they like. Within a window each client address and
// reason has one audit entry, stored at the first request and counting
// the rest; beyond anonymousPerWindow addresses in a window, the others
// share one entry per reason, from address "*". The store keeps the
// newest anonymousKept anonymous entries; authenticated ones are kept for
// the retention period and listed apart (see service.AuditQuery).
const (
	anonymousWindow    = time.Minute
	anonymousPerWindow = 100
	anonymousKept      = 10_000
	// anonymousOthers is the address of the entry that counts the
	// addresses beyond anonymousPerWindow.
	anonymousOthers = "*"
	// countEvery is how often the counts of aggregated entries are
	// written: a flood costs one insert, then one update a second.
	countEvery = time.Second
	// pruneEvery is how often audited writes prune the audit log.
	pruneEvery = time.Minute
)

// anonymousAudit aggregates refused anonymous writes (see anonymousWindow).
type anonymousAudit struct {
	mu     sync.Mutex
	window time.Time
	// entries are the current window's aggregates by address and reason.
	entries map[anonymousKey]*anonymousEntry
	// dirty are aggregates, of any window, whose count is not stored yet.
	dirty map[*anonymousEntry]struct{}
	// flushing is set while a flush is scheduled.
	flushing bool
}

type anonymousKey struct{ remote, reason string }

// anonymousEntry is one aggregate: its stored entry (0 while it is being
// stored, -1 when that failed), how many requests it counts and when the
// last came.
type anonymousEntry struct {
	id    int64
	count int
	last  time.Time
}

// audit records a write: who, what, when, from where, how it ended and,
// when authentication refused it, why. Refused anonymous writes are
// aggregated.
func (s *Server) audit(r *http.Request, p service.Principal, status int, refused string) {
	ctx := context.WithoutCancel(r.Context())
	e := metadata.AuditEntry{At: s.now(), Principal: p.Name, Role: string(p.Role), Method: r.Method, Path: capAuditPath(r.URL.Path),
		Status: status, Remote: s.clientAddr(r), Detail: refused}
	if p.Name == "" {
		e.Principal = metadata.AnonymousPrincipal
		s.auditAnonymous(ctx, e)
	} else if err := s.Service.RecordAudit(ctx, e); err != nil {
		s.logger().Error("audit log", "err", err, "method", r.Method, "path", e.Path)
	}
	s.pruneAudit(ctx, e.At)
}

// now is the audit log's time.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// auditAnonymous counts a refused anonymous write on its aggregate, and
// stores the aggregate when it is the first of its window.
func (s *Server) auditAnonymous(ctx context.Context, e metadata.AuditEntry) {
	a := &s.anonymous
	a.mu.Lock()
	if w := e.At.Truncate(anonymousWindow); !w.Equal(a.window) || a.entries == nil {
		a.window, a.entries = w, map[anonymousKey]*anonymousEntry{}
	}
	k := anonymousKey{e.Remote, e.Detail}
	en := a.entries[k]
	if en == nil && len(a.entries) >= anonymousPerWindow {
		k.remote = anonymousOthers
		en = a.entries[k]
	}
	if en != nil {
		en.count++
		en.last = e.At
		if a.dirty == nil {
			a.dirty = map[*anonymousEntry]struct{}{}
		}
		a.dirty[en] = struct{}{}
		if !a.flushing {
			a.flushing = true
			time.AfterFunc(countEvery, func() { s.flushAnonymous(context.Background()) })
		}
		a.mu.Unlock()
		return
	}
	en = &anonymousEntry{count: 1, last: e.At}
	a.entries[k] = en
	a.mu.Unlock()

	e.Remote = k.remote
	id, err := s.Service.AddAudit(ctx, e)
	if err != nil {
		s.logger().Error("audit log", "err", err, "method", e.Method, "path", e.Path)
		id = -1
	}
	a.mu.Lock()
	en.id = id
	a.mu.Unlock()
}

// flushAnonymous writes the counts of the aggregates that changed; one
// still being stored waits for the next flush.
func (s *Server) flushAnonymous(ctx context.Context) {
	a := &s.anonymous
	type write struct {
		id    int64
		count int
		last  time.Time
	}
	a.mu.Lock()
	var writes []write
	for en := range a.dirty {
		switch {
		case en.id < 0:
			delete(a.dirty, en)
		case en.id > 0:
			writes = append(writes, write{en.id, en.count, en.last})
			delete(a.dirty, en)
		}
	}
	a.flushing = len(a.dirty) > 0
	if a.flushing {
		time.AfterFunc(countEvery, func() { s.flushAnonymous(ctx) })
	}
	a.mu.Unlock()
	for _, w := range writes {
		if err := s.Service.CountAudit(ctx, w.id, w.count, w.last); err != nil {
			s.logger().Error("audit log: count refused anonymous requests", "err", err, "entry", w.id)
		}
	}
}

// Flush writes the audit log's pending counts of refused anonymous
// requests, which are otherwise written within a second; shp serve calls
// it as it stops.
func (s *Server) Flush(ctx context.Context) {
	s.flushAnonymous(ctx)
}

// pruneAudit deletes the audit entries older than Config.AuditRetention
// and the anonymous ones beyond the newest anonymousKept, at most once per
// pruneEvery.
func (s *Server) pruneAudit(ctx context.Context, now time.Time) {
	last := s.pruned.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < pruneEvery {
		return
	}
	if !s.pruned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	var before time.Time
	if s.Config.AuditRetention > 0 {
		before = now.Add(-s.Config.AuditRetention)
	}
	n, err := s.Service.PruneAudit(ctx, before, anonymousKept)
	if err != nil {
		s.logger().Error("audit log: prune", "err", err)
		return
	}
	if n > 0 {
		s.logger().Info("audit log: pruned", "entries", n, "retention", s.Config.AuditRetention)
	}
}
