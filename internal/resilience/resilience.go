// Package resilience wraps every call a connector makes to the outside:
// a timeout per attempt, bounded retries with exponential backoff and
// jitter for errors that retrying can fix, Retry-After for rate limits, a
// request-rate limit and a circuit breaker per source. Errors that
// retrying cannot fix fail on the first attempt.
package resilience

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// ErrCircuitOpen is returned without calling the source while its circuit
// breaker is open after repeated failures.
var ErrCircuitOpen = errors.New("circuit breaker open: the source failed repeatedly; not calling it for a while")

// Policy says how hard to try.
type Policy struct {
	MaxAttempts int           // attempts in all, at least 1; default 5
	BaseDelay   time.Duration // first backoff; default 200ms
	MaxDelay    time.Duration // longest backoff; default 30s
	Timeout     time.Duration // per attempt; 0 for none
	// RatePerSecond limits calls to the source; 0 for no limit.
	RatePerSecond float64
	Burst         int
	// BreakerFailures consecutive failed calls open the breaker for
	// BreakerCooldown; 0 disables the breaker.
	BreakerFailures uint32
	BreakerCooldown time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.Burst < 1 {
		p.Burst = 1
	}
	if p.BreakerCooldown <= 0 {
		p.BreakerCooldown = 30 * time.Second
	}
	return p
}

// Caller makes calls to one source under a policy. It is safe for
// concurrent use.
type Caller struct {
	name    string
	policy  Policy
	limiter *rate.Limiter
	breaker *gobreaker.CircuitBreaker[struct{}]
	// Notify, when set, hears about each failed attempt that will be retried.
	Notify func(attempt int, err error, wait time.Duration)

	mu      sync.Mutex
	retries []Retry
}

// Retry is a failed attempt that was retried: the evidence the
// self-healing engine records and diagnoses.
type Retry struct {
	Attempt int
	Err     error
	Wait    time.Duration // how long the caller waited before the next attempt
}

// TakeRetries returns the retried failures since the last call and
// forgets them.
func (c *Caller) TakeRetries() []Retry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.retries
	c.retries = nil
	return out
}

// New returns a Caller for the named source.
func New(name string, p Policy) *Caller {
	p = p.withDefaults()
	c := &Caller{name: name, policy: p}
	if p.RatePerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(p.RatePerSecond), p.Burst)
	}
	if p.BreakerFailures > 0 {
		c.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:    name,
			Timeout: p.BreakerCooldown,
			ReadyToTrip: func(counts gobreaker.Counts) bool {
				return counts.ConsecutiveFailures >= p.BreakerFailures
			},
			// Permanent errors say nothing about the source's health.
			IsExcluded: func(err error) bool { return !Transient(err) },
		})
	}
	return c
}

// Do runs op until it succeeds, fails permanently, or the attempts run
// out; a failure whose retries already ran out in a Do inside op is not
// retried again. The returned error is an AttemptsError: it names the
// source and the number of attempts.
func (c *Caller) Do(ctx context.Context, op func(ctx context.Context) error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.policy.BaseDelay
	b.MaxInterval = c.policy.MaxDelay
	b.RandomizationFactor = 0.5 // jitter: each wait is 50% to 150% of the nominal one
	attempts := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempts++
		err := c.attempt(ctx, op)
		switch {
		case err == nil:
			return struct{}{}, nil
		case errors.Is(err, ErrCircuitOpen), !Transient(err), retriedEnough(err):
			return struct{}{}, backoff.Permanent(err)
		}
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.Wait > 0 {
			return struct{}{}, &retryAfter{err: err, wait: ra.Wait}
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(c.policy.MaxAttempts)), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			var ra *retryAfter
			if errors.As(err, &ra) {
				err = ra.err
			}
			c.mu.Lock()
			if len(c.retries) < 100 {
				c.retries = append(c.retries, Retry{Attempt: attempts, Err: err, Wait: wait})
			}
			c.mu.Unlock()
			if c.Notify != nil {
				c.Notify(attempts, err, wait)
			}
		}))
	if err == nil {
		return nil
	}
	var ra *retryAfter
	if errors.As(err, &ra) {
		err = ra.err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return &AttemptsError{Name: c.name, Attempts: attempts, MaxAttempts: c.policy.MaxAttempts, Err: err}
}

// AttemptsError is a call that failed: after how many attempts, of how
// many the policy allowed. Exhausted tells "the retries ran out" from a
// failure that was not retried (a permanent one) or retried only in part.
type AttemptsError struct {
	Name        string // the source
	Attempts    int    // attempts made
	MaxAttempts int    // attempts the policy allowed
	Err         error  // the last attempt's error
}

// Error names the source and the attempts made.
func (e *AttemptsError) Error() string {
	return fmt.Sprintf("%s: failed after %d attempt(s): %v", e.Name, e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *AttemptsError) Unwrap() error { return e.Err }

// Exhausted reports whether every attempt the policy allowed was made.
func (e *AttemptsError) Exhausted() bool { return e.Attempts >= e.MaxAttempts }

// retriedEnough reports whether err comes from a nested call whose own
// retries ran out (a request inside a chunk that is retried as a whole):
// retrying the enclosing call would retry them all over again.
func retriedEnough(err error) bool {
	var ae *AttemptsError
	return errors.As(err, &ae) && ae.Exhausted() && ae.MaxAttempts > 1
}

// retryAfter carries a server's Retry-After to backoff, which waits
// exactly that long instead of its own interval.
type retryAfter struct {
	err  error
	wait time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() []error {
	return []error{r.err, &backoff.RetryAfterError{Duration: r.wait}}
}

func (c *Caller) attempt(ctx context.Context, op func(ctx context.Context) error) error {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	run := func() error {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.policy.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.policy.Timeout)
		}
		defer cancel()
		err := op(actx)
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			// Our own per-attempt timeout: worth another try.
			return &timeoutError{after: c.policy.Timeout, err: err}
		}
		return err
	}
	if c.breaker == nil {
		return run()
	}
	_, err := c.breaker.Execute(func() (struct{}, error) { return struct{}{}, run() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return ErrCircuitOpen
	}
	return err
}

type timeoutError struct {
	after time.Duration
	err   error
}

func (t *timeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %s: %v", t.after, t.err)
}
func (t *timeoutError) Unwrap() error { return t.err }

// HTTPError is a response a connector did not want: its status, the
// server's message and, for 429 and 503, how long the server asked us to
// wait.
type HTTPError struct {
	Method, URL string // URL without credentials in its query
	Status      int
	Message     string
	RetryAfter  time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// RetryAfterError is implemented by errors that carry a server-requested wait.
type RetryAfterError struct{ Wait time.Duration }

func (e *RetryAfterError) Error() string { return fmt.Sprintf("retry after %s", e.Wait) }

// As lets errors.As find the server's Retry-After in an HTTPError.
func (e *HTTPError) As(target any) bool {
	if t, ok := target.(**RetryAfterError); ok && e.RetryAfter > 0 {
		*t = &RetryAfterError{Wait: e.RetryAfter}
		return true
	}
	return false
}

// NewHTTPError reads a failed response into an HTTPError; the body is read
// up to 4 KiB for the message.
func NewHTTPError(resp *http.Response, redactedURL string) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	e := &HTTPError{Method: resp.Request.Method, URL: redactedURL, Status: resp.StatusCode,
		Message: strings.TrimSpace(string(body))}
	e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrPermanent marks a failure that retrying cannot fix, whatever else its
// chain holds (a response of another shape than the source's settings
// read): Transient reports false for it, so it fails on the first attempt.
var ErrPermanent = errors.New("not retryable")

// ErrRetryLater marks a failure that a later attempt may not have, such
// as data that has not arrived yet: Transient reports it.
var ErrRetryLater = errors.New("retry later")

// Transient reports whether retrying might fix err: network failures and
// resets, timeouts of one attempt, HTTP 429 and 5xx, and SQL serialization
// failures, deadlocks and lost connections. Everything else (bad
// credentials, a missing table, other 4xx, anything marked ErrPermanent)
// is permanent.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrPermanent) {
		return false
	}
	if errors.Is(err, ErrRetryLater) {
		return true
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return true
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status == http.StatusRequestTimeout || he.Status >= 500
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "40001", pg.Code == "40P01": // serialization failure, deadlock
			return true
		case strings.HasPrefix(pg.Code, "08"), strings.HasPrefix(pg.Code, "57P"): // connection exception, admin shutdown
			return true
		case pg.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case 1205, 1213, 2006, 2013, 1040, 1053: // lock wait timeout, deadlock, server gone, lost connection, too many connections, shutdown
			return true
		}
		return false
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
