package warehousetest

import (
	"sync"

	"github.com/shp-dev/shp/internal/warehouse"
)

// QueryEvents is a warehouse.QueryLog that keeps what it is told, for
// tests of what a warehouse reports.
type QueryEvents struct {
	mu  sync.Mutex
	got []warehouse.QueryEvent
}

// LogQuery implements warehouse.QueryLog.
func (e *QueryEvents) LogQuery(ev warehouse.QueryEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// Events returns what it was told so far, in order.
func (e *QueryEvents) Events() []warehouse.QueryEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]warehouse.QueryEvent(nil), e.got...)
}
