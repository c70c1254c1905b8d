package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// get fetches url through c, turning unwanted statuses into HTTPErrors.
func get(c *Caller, url string) error {
	return c.Do(context.Background(), func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return NewHTTPError(resp, url)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	})
}

func fast() Policy {
	return Policy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

func TestRetriesTransientHTTPFailures(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1, 2:
			http.Error(w, "try later", http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	c := New("api", fast())
	var notes []int
	c.Notify = func(attempt int, err error, wait time.Duration) { notes = append(notes, attempt) }
	if err := get(c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(notes) != 2 {
		t.Fatalf("calls %d notes %v", calls.Load(), notes)
	}
}

func TestPermanentErrorsFailFast(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error": "no such resource"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	err := get(New("api", fast()), srv.URL+"/things")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 404 || calls.Load() != 1 {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
	if !strings.Contains(err.Error(), "api: failed after 1 attempt(s): GET "+srv.URL+"/things: 404 Not Found: {\"error\": \"no such resource\"}") {
		t.Fatalf("message: %v", err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	var waited time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		waited = time.Since(first)
	}))
	defer srv.Close()
	if err := get(New("api", fast()), srv.URL); err != nil {
		t.Fatal(err)
	}
	// The policy's own backoff is a millisecond; the server asked for a second.
	if waited < 900*time.Millisecond {
		t.Fatalf("retried after %s, before the server's Retry-After", waited)
	}
}

func TestAttemptsRunOut(t *testing.T) {
	var calls atomic.Int32
	c := New("db", fast())
	err := c.Do(context.Background(), func(context.Context) error {
		calls.Add(1)
		return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	})
	if calls.Load() != 4 || err == nil || !strings.Contains(err.Error(), "db: failed after 4 attempt(s)") {
		t.Fatalf("calls %d err %v", calls.Load(), err)
	}
	var ae *AttemptsError
	if !errors.As(err, &ae) || !ae.Exhausted() || ae.Attempts != 4 || ae.MaxAttempts != 4 {
		t.Fatalf("attempts: %+v", ae)
	}
}

// TestPermanentMarkFailsFast: an error marked ErrPermanent is not retried,
// even when its chain also holds a transient-looking cause, and the
// attempts say the retries did not run out.
func TestPermanentMarkFailsFast(t *testing.T) {
	var calls atomic.Int32
	err := New("api", fast()).Do(context.Background(), func(context.Context) error {
		calls.Add(1)
		return fmt.Errorf("page 1: %w", errors.Join(ErrPermanent, io.ErrUnexpectedEOF))
	})
	var ae *AttemptsError
	if calls.Load() != 1 || !errors.As(err, &ae) || ae.Exhausted() || ae.Attempts != 1 || ae.MaxAttempts != 4 || Transient(err) {
		t.Fatalf("calls %d, err %v, attempts %+v", calls.Load(), err, ae)
	}
}

// TestNestedRetriesAreNotMultiplied: a call inside a retried call whose
// own retries ran out is not retried again by the enclosing one, and the
// failure stays transient (a run may be retried later, a replica tried).
func TestNestedRetriesAreNotMultiplied(t *testing.T) {
	var calls atomic.Int32
	inner := New("api", fast())
	err := New("api", fast()).Do(context.Background(), func(ctx context.Context) error {
		return fmt.Errorf("page 1: %w", inner.Do(ctx, func(context.Context) error {
			calls.Add(1)
			return &HTTPError{Status: 502}
		}))
	})
	var outer *AttemptsError
	if calls.Load() != 4 || !errors.As(err, &outer) || outer.Attempts != 1 || !retriedEnough(outer.Err) || !Transient(err) {
		t.Fatalf("calls %d, err %v", calls.Load(), err)
	}
}

func TestPerAttemptTimeoutIsRetried(t *testing.T) {
	var calls atomic.Int32
	p := fast()
	p.Timeout = 20 * time.Millisecond
	err := New("slow", p).Do(context.Background(), func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if err != nil || calls.Load() != 2 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
}

func TestCircuitBreakerOpens(t *testing.T) {
	p := fast()
	p.MaxAttempts = 1
	p.BreakerFailures = 3
	p.BreakerCooldown = time.Hour
	c := New("flaky", p)
	var calls atomic.Int32
	fail := func(context.Context) error { calls.Add(1); return syscall.ECONNRESET }
	for i := 0; i < 3; i++ {
		_ = c.Do(context.Background(), fail)
	}
	err := c.Do(context.Background(), fail)
	if !errors.Is(err, ErrCircuitOpen) || calls.Load() != 3 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
	// Permanent errors do not trip the breaker.
	c2 := New("strict", p)
	for i := 0; i < 5; i++ {
		if err := c2.Do(context.Background(), func(context.Context) error { return errors.New("bad password") }); errors.Is(err, ErrCircuitOpen) {
			t.Fatal("a permanent error opened the breaker")
		}
	}
}

func TestRateLimitAndCancellation(t *testing.T) {
	p := fast()
	p.RatePerSecond = 1000
	p.Burst = 1
	c := New("limited", p)
	for i := 0; i < 5; i++ {
		if err := c.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := New("x", Policy{RatePerSecond: 0.001, Burst: 1})
	_ = slow.Do(context.Background(), func(context.Context) error { return nil }) // uses the burst
	if err := slow.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func mysqlErr(n uint16) error {
	return &mysql.MySQLError{Number: n, Message: fmt.Sprintf("error %d", n)}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("bad password"), false},
		{context.Canceled, false},
		{&HTTPError{Status: 503}, true},
		{&HTTPError{Status: 429}, true},
		{&HTTPError{Status: 401}, false},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "42P01"}, false}, // undefined table
		{&pgconn.PgError{Code: "28P01"}, false}, // bad password
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{mysqlErr(1213), true},
		{mysqlErr(1146), false}, // no such table
		{fmt.Errorf("scan: %w", mysql.ErrInvalidConn), true},
	}
	for _, tc := range tests {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tc := range tests {
		if got := ParseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.h, got, tc.want)
		}
	}
}
