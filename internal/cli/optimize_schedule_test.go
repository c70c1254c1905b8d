package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

// stepClock is a clock whose sleeps pass at once; it ends the context
// after a number of them.
type stepClock struct {
	now    time.Time
	slept  []time.Duration
	stopAt int
	cancel context.CancelFunc
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if len(c.slept) == c.stopAt {
		c.cancel()
		return ctx.Err()
	}
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

// TestRecommendOnSchedule: a round at each fire of the schedule, reading
// the last 30 days of queries; a failed round is logged and the next
// comes; the loop ends with its context.
func TestRecommendOnSchedule(t *testing.T) {
	sched, err := scheduler.ParseSchedule("0 3 * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &stepClock{now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), stopAt: 3, cancel: cancel}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var rounds []time.Time
	recommendOnSchedule(ctx, sched, clock, log, func(_ context.Context, since time.Time) ([]service.OptimizationView, error) {
		rounds = append(rounds, since)
		if len(rounds) == 2 {
			return nil, errors.New("warehouse busy")
		}
		return []service.OptimizationView{
			{ID: 1, Table: "sales", Status: service.OptApplied, Change: optimize.Change{Kind: "index", Columns: []string{"customer"}, Method: "art"}},
			{ID: 2, Table: "sales", Status: service.OptProposed},
			{ID: 3, Table: "sales", Status: service.OptAdvice},
		}, nil
	})
	// Fires at 03:00 on the 7th, 8th and 9th: the first wait is 17h.
	if len(clock.slept) != 3 || clock.slept[0] != 17*time.Hour || clock.slept[1] != 24*time.Hour || clock.slept[2] != 24*time.Hour {
		t.Errorf("waits %v", clock.slept)
	}
	if len(rounds) != 3 || !rounds[0].Equal(time.Date(2026, 11, 7, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("rounds since %v", rounds)
	}
	out := buf.String()
	for _, want := range []string{
		`msg="optimization applied by policy" id=1 table=sales change="art index on customer"`,
		`msg="scheduled optimisation round" recommendations=3 proposed=1 applied=1 declined=0 advice=1`,
		`msg="scheduled optimisation round failed" schedule="0 3 * * *" err="warehouse busy"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
