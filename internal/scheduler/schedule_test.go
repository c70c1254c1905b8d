package scheduler

import (
	"testing"
	"time"
)

func mustParse(t *testing.T, spec, tz string) *Schedule {
	t.Helper()
	s, err := ParseSchedule(spec, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNextAcrossDST: a daily 02:30 schedule in Paris fires once a day
// through both clock changes of 2026; on the spring day 02:30 does not
// exist and the run fires an hour later that day.
func TestNextAcrossDST(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	s := mustParse(t, "30 2 * * *", "Europe/Paris")
	cases := []struct {
		after time.Time
		want  string
	}{
		{time.Date(2026, 3, 28, 3, 0, 0, 0, paris), "2026-03-29T03:30:00+02:00"}, // spring forward: 02:30 does not exist, it runs an hour later
		{time.Date(2026, 3, 29, 4, 0, 0, 0, paris), "2026-03-30T02:30:00+02:00"},
		{time.Date(2026, 10, 24, 3, 0, 0, 0, paris), "2026-10-25T02:30:00+01:00"}, // fall back: 02:30 happens twice, it runs once
		{time.Date(2026, 10, 25, 2, 31, 0, 0, paris), "2026-10-26T02:30:00+01:00"},
	}
	for _, c := range cases {
		if got := s.Next(c.after).Format(time.RFC3339); got != c.want {
			t.Errorf("Next(%s) = %s, want %s", c.after, got, c.want)
		}
	}
	// One run per day across the autumn change: 02:30 happens twice on
	// October 25th, the schedule fires once.
	fires := s.Due(time.Date(2026, 10, 23, 12, 0, 0, 0, paris), time.Date(2026, 10, 27, 12, 0, 0, 0, paris), true)
	if len(fires) != 4 {
		t.Fatalf("%d fires in four days: %v", len(fires), fires)
	}
	// Hourly in New York keeps 1-hour intervals in absolute time.
	ny := mustParse(t, "0 * * * *", "America/New_York")
	due := ny.Due(time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC), true)
	for _, iv := range due {
		if iv.End.Sub(iv.Start) != time.Hour {
			t.Errorf("interval %v is not an hour", iv)
		}
	}
}

func TestDueAndCatchup(t *testing.T) {
	s := mustParse(t, "0 2 * * *", "")
	last := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	now := time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)
	all := s.Due(last, now, true)
	if len(all) != 3 || all[0].Start != last || all[2].End != time.Date(2026, 1, 4, 2, 0, 0, 0, time.UTC) {
		t.Fatalf("catchup %v", all)
	}
	latest := s.Due(last, now, false)
	if len(latest) != 1 || latest[0] != all[2] {
		t.Fatalf("no catchup %v", latest)
	}
	if got := s.Due(now, now, true); len(got) != 0 {
		t.Fatalf("nothing due: %v", got)
	}
	if p := s.Prev(time.Date(2026, 1, 4, 2, 0, 0, 0, time.UTC)); p != time.Date(2026, 1, 3, 2, 0, 0, 0, time.UTC) {
		t.Fatalf("Prev %v", p)
	}
	monthly := mustParse(t, "@monthly", "")
	if p := monthly.Prev(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)); p != time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("monthly Prev %v", p)
	}
}

func TestBetween(t *testing.T) {
	s := mustParse(t, "@daily", "")
	ivs := s.Between(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	if len(ivs) != 5 || ivs[0].Start.Day() != 1 || ivs[4].Start.Day() != 5 || ivs[4].End.Day() != 6 {
		t.Fatalf("backfill intervals %v", ivs)
	}
	if _, err := ParseSchedule("@dayly", ""); err == nil {
		t.Fatal("bad spec accepted")
	}
	if _, err := ParseSchedule("@daily", "Mars/Base"); err == nil {
		t.Fatal("bad zone accepted")
	}
}
