package metadata

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultLease is how long a running run may go without a heartbeat from
// the process running it before it counts as abandoned.
const DefaultLease = 2 * time.Minute

// NewOwner returns a new name for a process that runs runs or claims
// intervals: its host, its process id and a random part,
// "host/pid/random". A process goes by one name, ProcessOwner's. On Linux, a process in a PID namespace of its own (a
// container) adds the namespace to its host ("host+pidns:N"), so that
// OwnerGone never reads another container's process ids as this one's.
func NewOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	if ns := pidNamespace(); ns != "" {
		host += "+pidns:" + ns
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// processOwner is this process's name, made once.
var processOwner = sync.OnceValue(NewOwner)

// ProcessOwner returns this process's name (a NewOwner made once): the
// owner of the runs it records and of the intervals its scheduler claims.
func ProcessOwner() string { return processOwner() }

// OwnerGone reports whether owner (a NewOwner name) is clearly a process
// that no longer runs: one of this host, and of this PID namespace, whose
// process id is not running, or is this process's under another name (a
// restart that got the same id; a process goes by ProcessOwner only). An
// owner of another host, or a name it cannot read, is never gone by this
// test; only its lease tells.
func OwnerGone(owner string) bool {
	host, rest, ok := strings.Cut(owner, "/")
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	me := ProcessOwner()
	if myHost, _, _ := strings.Cut(me, "/"); host != myHost {
		return false
	}
	if pid == os.Getpid() {
		return owner != me
	}
	return processGone(pid)
}

// abandonedBy says whether a running run is abandoned at now, and why:
// its heartbeat is older than its lease, or its owner is gone
// (OwnerGone). staleBefore is the bound its heartbeat is under. A run
// without a heartbeat is never abandoned: nobody promised one.
func abandonedBy(r Run, now time.Time) (reason string, staleBefore time.Time, ok bool) {
	if r.Status != StatusRunning || r.HeartbeatAt.IsZero() {
		return "", time.Time{}, false
	}
	owner := r.Owner
	if owner == "" {
		owner = "unknown"
	}
	at := r.HeartbeatAt.UTC().Format(time.RFC3339)
	lease := r.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	if now.Sub(r.HeartbeatAt) > lease {
		return fmt.Sprintf("abandoned: the process running it (owner %s) stopped heartbeating at %s (lease %s)", owner, at, lease),
			now.Add(-lease), true
	}
	if r.Owner != "" && OwnerGone(r.Owner) {
		_, rest, _ := strings.Cut(r.Owner, "/")
		pid, _, _ := strings.Cut(rest, "/")
		return fmt.Sprintf("abandoned: the process running it (owner %s) stopped heartbeating at %s (process %s is gone)", owner, at, pid),
			r.HeartbeatAt.Add(time.Microsecond), true
	}
	return "", time.Time{}, false
}

// RunSweeper is what AbandonRuns needs of a store: the running runs, and
// the conditional update that marks one abandoned.
type RunSweeper interface {
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	AbandonRun(ctx context.Context, seen Run, staleBefore, end time.Time, reason string) (bool, error)
}

// AbandonRuns marks failed the running runs of every pipeline whose
// process is gone: whose heartbeat is older than their lease, or whose
// owner is a process of this host that no longer runs (OwnerGone). The
// error says so: "abandoned: the process running it (owner X) stopped
// heartbeating at T". Each is one conditional update (Store.AbandonRun),
// so that several processes sweeping at once mark each run once, and a
// run that heartbeats meanwhile is left running. It returns the runs it
// marked, as they are now.
func AbandonRuns(ctx context.Context, s RunSweeper) ([]Run, error) {
	running, err := s.ListRuns(ctx, RunFilter{Status: StatusRunning})
	if err != nil {
		return nil, fmt.Errorf("find abandoned runs: %w", err)
	}
	var out []Run
	var errs []error
	now := time.Now()
	for _, r := range running {
		reason, before, ok := abandonedBy(r, now)
		if !ok {
			continue
		}
		done, err := s.AbandonRun(ctx, r, before, now, reason)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			r.Status, r.Error, r.EndedAt = StatusFailed, reason, now.UTC().Truncate(time.Microsecond)
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

// leaseMillis is a lease as stored: whole milliseconds, at least 1 for a
// lease shorter than that, 0 for none.
func leaseMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Milliseconds(), 1)
}

// HeartbeatRuns implements Store.
func (s *sqlStore) HeartbeatRuns(ctx context.Context, owner string, ids []string) (int64, error) {
	if owner == "" || len(ids) == 0 {
		return 0, nil
	}
	args := []any{s.d.timeArg(time.Now()), owner}
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := s.exec(ctx, `UPDATE runs SET heartbeat_at = ? WHERE owner = ? AND status = 'running' AND id IN (?`+
		strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("heartbeat %d run(s) of %s: %w", len(ids), owner, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("heartbeat %d run(s) of %s: %w", len(ids), owner, err)
	}
	return n, nil
}

// AbandonRun implements Store.
func (s *sqlStore) AbandonRun(ctx context.Context, seen Run, staleBefore, end time.Time, reason string) (bool, error) {
	if seen.ID == "" {
		return false, fmt.Errorf("abandon run: %w: empty run ID", ErrInvalid)
	}
	q := `UPDATE runs SET status = 'failed', ended_at = ?, error = ? WHERE id = ? AND status = 'running' AND owner = ?`
	args := []any{s.d.timeArg(end), reason, seen.ID, seen.Owner}
	if seen.HeartbeatAt.IsZero() {
		q += ` AND heartbeat_at IS NULL`
	} else {
		q += ` AND heartbeat_at = ? AND heartbeat_at < ?`
		args = append(args, s.d.timeArg(seen.HeartbeatAt), s.d.timeArg(staleBefore))
	}
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(q), args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		changed = true
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE task_attempts SET status = 'failed', ended_at = ?, error = ?
WHERE run_id = ? AND status = 'running'`), s.d.timeArg(end), reason, seen.ID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("abandon run %s: %w", seen.ID, err)
	}
	return changed, nil
}
