package metadata

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestAuditAggregatesAndPruning: an audit entry counts the requests it
// stands for, listings select authenticated or anonymous callers, and
// pruning deletes by age and keeps the newest anonymous entries (issue
// 14, item 4).
func TestAuditAggregatesAndPruning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var anonymous []int64
		for i := 0; i < 6; i++ {
			id, err := s.AddAudit(ctx, AuditEntry{At: ts(i * 10), Principal: AnonymousPrincipal, Method: "POST", Path: "/p", Status: 401,
				Remote: fmt.Sprintf("10.0.0.%d", i), Detail: "no credentials"})
			mustNil(t, err)
			anonymous = append(anonymous, id)
			mustNil(t, s.RecordAudit(ctx, AuditEntry{At: ts(i*10 + 1), Principal: "key:k (ci)", Role: "operator", Method: "POST", Path: "/q", Status: 202}))
		}
		mustNil(t, s.CountAudit(ctx, anonymous[5], 37, ts(58)))
		if err := s.CountAudit(ctx, 999999, 2, ts(58)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("count an unknown entry: %v", err)
		}
		got, err := s.QueryAudit(ctx, AuditQuery{Callers: AuditAnonymous, Limit: 2})
		mustNil(t, err)
		if len(got) != 2 || got[0].ID != anonymous[5] || got[0].Count != 37 || !got[0].LastAt.Equal(ts(58)) || got[0].Detail != "no credentials" ||
			got[0].Remote != "10.0.0.5" || got[1].Count != 1 || !got[1].LastAt.IsZero() {
			t.Fatalf("anonymous entries %+v", got)
		}
		got, err = s.QueryAudit(ctx, AuditQuery{Callers: AuditAuthenticated})
		mustNil(t, err)
		if len(got) != 6 || got[0].Principal != "key:k (ci)" || got[0].Count != 1 {
			t.Fatalf("authenticated entries %+v", got)
		}
		if _, err := s.QueryAudit(ctx, AuditQuery{Callers: "robots"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("unknown callers: %v", err)
		}

		// Older than ts(15) goes: two of each; of the anonymous rest the
		// newest two stay.
		n, err := s.PruneAudit(ctx, ts(15), 2)
		mustNil(t, err)
		all, err := s.ListAudit(ctx, 0)
		mustNil(t, err)
		var anon, auth int
		for _, e := range all {
			if e.At.Before(ts(15)) {
				t.Errorf("an entry older than the cutoff stays: %+v", e)
			}
			if e.Principal == AnonymousPrincipal {
				anon++
				if e.ID != anonymous[4] && e.ID != anonymous[5] {
					t.Errorf("an older anonymous entry stays: %+v", e)
				}
			} else {
				auth++
			}
		}
		if n != 6 || anon != 2 || auth != 4 {
			t.Fatalf("pruned %d, kept %d anonymous and %d authenticated; want 6, 2 and 4", n, anon, auth)
		}
		// Fewer anonymous entries than kept, and no cutoff: nothing goes.
		if n, err := s.PruneAudit(ctx, ts(-1000), 5); err != nil || n != 0 {
			t.Fatalf("prune nothing: %d %v", n, err)
		}
		if n, err := s.PruneAudit(ctx, ts(-1000), 0); err != nil || n != 0 {
			t.Fatalf("prune nothing, no anonymous cap: %d %v", n, err)
		}
	})
}
