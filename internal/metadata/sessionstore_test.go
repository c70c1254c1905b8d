package metadata

import (
	"context"
	"errors"
	"testing"
	"time"
)

// uiSessionStore is what the web UI's sessions need of a store.
type uiSessionStore interface {
	CreateUISession(ctx context.Context, u UISession) error
	GetUISession(ctx context.Context, hash string) (UISession, error)
	DeleteUISession(ctx context.Context, hash string) error
	PruneUISessions(ctx context.Context, t time.Time) (int64, error)
}

func TestUISessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		us, ok := s.(uiSessionStore)
		if !ok {
			t.Fatal("the store keeps no ui sessions")
		}
		at := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
		a := UISession{Hash: "h1", Principal: "key:k1 (ana)", Role: "operator", KeyID: "k1", CSRF: "c1", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		b := UISession{Hash: "h2", Principal: "oidc:bo@example.com", Role: "viewer", CSRF: "c2", CreatedAt: at, ExpiresAt: at.Add(3 * time.Hour)}
		mustNil(t, us.CreateUISession(ctx, a))
		mustNil(t, us.CreateUISession(ctx, b))
		if err := us.CreateUISession(ctx, a); err == nil {
			t.Error("a second session with the same hash was stored")
		}
		if err := us.CreateUISession(ctx, UISession{Hash: "h3", Role: "viewer"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a session without csrf token or expiry: %v, want ErrInvalid", err)
		}
		got, err := us.GetUISession(ctx, "h1")
		mustNil(t, err)
		if got.Principal != a.Principal || got.Role != a.Role || got.KeyID != "k1" || got.CSRF != "c1" ||
			!got.CreatedAt.Equal(at) || !got.ExpiresAt.Equal(a.ExpiresAt) {
			t.Errorf("session read back as %+v, want %+v", got, a)
		}
		if _, err := us.GetUISession(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown session: %v, want ErrNotFound", err)
		}
		n, err := us.PruneUISessions(ctx, at.Add(2*time.Hour))
		mustNil(t, err)
		if n != 1 {
			t.Errorf("pruned %d sessions, want the one expired", n)
		}
		if _, err := us.GetUISession(ctx, "h1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session after pruning: %v", err)
		}
		mustNil(t, us.DeleteUISession(ctx, "h2"))
		mustNil(t, us.DeleteUISession(ctx, "h2"))
		if _, err := us.GetUISession(ctx, "h2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
	})
}
