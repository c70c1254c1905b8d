// Package scheduler runs pipelines on their cron schedules: it finds the
// intervals that are due (all missed ones with catchup), orders runs by
// their pipelines' dependencies, limits how many run at once, retries
// failures worth retrying with backoff and jitter, and records every
// interval it takes in the metadata store, so that no interval runs twice,
// even with two schedulers sharing one PostgreSQL metadata store.
//
// As in Airflow, a run covers a data interval and starts when the
// interval ends; its logical date is the interval's start. A daily
// schedule at 02:00 runs on January 2nd at 02:00 for the logical date
// January 1st 02:00 ({{ds}} = 2026-01-01).
package scheduler

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a cron schedule read in a time zone.
type Schedule struct {
	spec cron.Schedule
	loc  *time.Location
	text string
}

// Interval is one data interval: a run for it starts at End and its
// logical date is Start.
type Interval struct{ Start, End time.Time }

// ParseSchedule reads a five-field cron expression or a descriptor such as
// @daily, in the IANA time zone tz (UTC when empty).
func ParseSchedule(spec, tz string) (*Schedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
		loc = l
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return &Schedule{spec: s, loc: loc, text: spec}, nil
}

// String is the schedule as written.
func (s *Schedule) String() string { return s.text }

// Next is the first fire time strictly after t.
//
// Schedules at fixed hours (daily, weekly ...) follow the wall clock of
// their zone, once a day whatever the clock changes do: when the hour
// does not exist (spring forward) the run fires an hour later in the
// same day, and when it happens twice (fall back) the run fires once.
// Schedules on every hour follow absolute time, an hour apart.
func (s *Schedule) Next(t time.Time) time.Time {
	spec, ok := s.spec.(*cron.SpecSchedule)
	if !ok || spec.Hour&allHours == allHours || s.loc == time.UTC {
		return s.spec.Next(t.In(s.loc))
	}
	// Step on a clock without clock changes, then read its fields as
	// wall-clock time in the zone.
	local := t.In(s.loc)
	floating := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), local.Nanosecond(), time.UTC)
	for {
		f := s.spec.Next(floating)
		if f.IsZero() {
			return f
		}
		next := time.Date(f.Year(), f.Month(), f.Day(), f.Hour(), f.Minute(), f.Second(), 0, s.loc)
		if next.After(t) {
			return next
		}
		floating = f
	}
}

// allHours has a bit for each hour of the day.
const allHours = uint64(1<<24 - 1)

// Prev is the last fire time strictly before t.
func (s *Schedule) Prev(t time.Time) time.Time {
	for window := time.Hour; window <= 800*24*time.Hour; window *= 2 {
		var last time.Time
		for f := s.Next(t.Add(-window)); f.Before(t); f = s.Next(f) {
			last = f
		}
		if !last.IsZero() {
			return last
		}
	}
	return time.Time{}
}

// Ending is the interval whose run fires at fire.
func (s *Schedule) Ending(fire time.Time) Interval {
	return Interval{Start: s.Prev(fire), End: fire}
}

// Due returns the intervals whose runs fired in (last, now], oldest first.
// Without catchup only the latest of them is returned.
func (s *Schedule) Due(last, now time.Time, catchup bool) []Interval {
	var out []Interval
	for f := s.Next(last); !f.After(now); f = s.Next(f) {
		out = append(out, s.Ending(f))
		if len(out) > 100000 {
			break
		}
	}
	if !catchup && len(out) > 1 {
		out = out[len(out)-1:]
	}
	return out
}

// Between returns the intervals whose logical dates (starts) lie in
// [from, to], oldest first: the runs of a backfill.
func (s *Schedule) Between(from, to time.Time) []Interval {
	var out []Interval
	start := s.Next(from.Add(-time.Nanosecond))
	for !start.After(to) {
		end := s.Next(start)
		out = append(out, Interval{Start: start, End: end})
		start = end
		if len(out) > 100000 {
			break
		}
	}
	return out
}
