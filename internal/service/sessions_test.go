package service

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// sessionStoreOf is the fixture's store as a SessionStore.
func (f *fixture) sessionStoreOf() SessionStore {
	f.t.Helper()
	ss, ok := f.store.(SessionStore)
	if !ok {
		f.t.Fatal("the SQLite store keeps no sessions")
	}
	return ss
}

// TestSessions: a session is opened for a principal, read by its token
// (the store keeps only the token's hash) until it expires or is closed;
// one opened with an API key ends with the key.
func TestSessions(t *testing.T) {
	f := newFixture(t, nil)
	ss := f.sessionStoreOf()
	key, view, err := f.svc.CreateKey(f.ctx, "ui", Operator, 0, "test")
	f.must(err)
	p, err := f.svc.Authenticate(f.ctx, key)
	f.must(err)

	token, s, err := f.svc.OpenSession(f.ctx, p, time.Hour)
	f.must(err)
	if !strings.HasPrefix(token, SessionPrefix) || len(token) < len(SessionPrefix)+40 || strings.Contains(token, key) {
		t.Fatalf("token %q", token)
	}
	if s.Principal != p || len(s.CSRF) < 40 || s.CSRF == token || !s.ExpiresAt.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("session %+v", s)
	}
	stored, err := ss.GetUISession(f.ctx, hashSecret(token))
	f.must(err)
	if stored.Hash == token || stored.Principal != p.Name || stored.Role != "operator" || stored.KeyID != view.ID || stored.CSRF != s.CSRF ||
		!stored.CreatedAt.Equal(f.now) {
		t.Fatalf("stored %+v", stored)
	}
	got, err := f.svc.SessionOf(f.ctx, token)
	f.must(err)
	if got.Principal != p || got.CSRF != s.CSRF || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("SessionOf %+v, want %+v", got, s)
	}
	// Each session has its own token and CSRF token.
	token2, s2, err := f.svc.OpenSession(f.ctx, p, time.Hour)
	f.must(err)
	if token2 == token || s2.CSRF == s.CSRF {
		t.Fatal("two sessions share a token")
	}

	for _, bad := range []string{"", "shp_" + token[len(SessionPrefix):], token[len(SessionPrefix):], SessionPrefix, SessionPrefix + "unknown",
		token + "x", strings.ToUpper(token)} {
		if _, err := f.svc.SessionOf(f.ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("SessionOf(%q): %v", bad, err)
		}
	}

	// Expiry: the session lives until ExpiresAt, not at it.
	f.now = f.now.Add(time.Hour - time.Second)
	if _, err := f.svc.SessionOf(f.ctx, token); err != nil {
		t.Errorf("a second before its expiry: %v", err)
	}
	f.now = f.now.Add(time.Second)
	if _, err := f.svc.SessionOf(f.ctx, token); !errors.Is(err, ErrNoSession) {
		t.Errorf("at its expiry: %v", err)
	}
	// Expired sessions are pruned when the next one is opened.
	f.now = f.now.Add(time.Second)
	_, _, err = f.svc.OpenSession(f.ctx, p, time.Hour)
	f.must(err)
	if _, err := ss.GetUISession(f.ctx, hashSecret(token)); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("an expired session is kept: %v", err)
	}

	// Closing.
	token3, _, err := f.svc.OpenSession(f.ctx, p, time.Hour)
	f.must(err)
	f.must(f.svc.CloseSession(f.ctx, token3))
	if _, err := f.svc.SessionOf(f.ctx, token3); !errors.Is(err, ErrNoSession) {
		t.Errorf("a closed session: %v", err)
	}
	f.must(f.svc.CloseSession(f.ctx, token3))
	f.must(f.svc.CloseSession(f.ctx, SessionPrefix+"never-opened"))

	// Revoking the key ends its sessions.
	token4, _, err := f.svc.OpenSession(f.ctx, p, time.Hour)
	f.must(err)
	f.must(f.svc.RevokeKey(f.ctx, view.ID))
	if _, err := f.svc.SessionOf(f.ctx, token4); !errors.Is(err, ErrNoSession) {
		t.Errorf("the session of a revoked key: %v", err)
	}
	// No session is opened with a revoked key, or an expired one.
	if _, _, err := f.svc.OpenSession(f.ctx, p, time.Hour); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("a session opened with a revoked key: %v", err)
	}
	short, _, err := f.svc.CreateKey(f.ctx, "short-lived", Viewer, time.Minute, "test")
	f.must(err)
	sp, err := f.svc.Authenticate(f.ctx, short)
	f.must(err)
	f.now = f.now.Add(time.Minute)
	if _, _, err := f.svc.OpenSession(f.ctx, sp, time.Hour); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("a session opened with an expired key: %v", err)
	}
}

// TestSessionOfAnExpiringKey: a session opened with a key that expires
// before the session would ends with the key.
func TestSessionOfAnExpiringKey(t *testing.T) {
	f := newFixture(t, nil)
	key, view, err := f.svc.CreateKey(f.ctx, "short", Viewer, 30*time.Minute, "test")
	f.must(err)
	p, err := f.svc.Authenticate(f.ctx, key)
	f.must(err)
	token, s, err := f.svc.OpenSession(f.ctx, p, 12*time.Hour)
	f.must(err)
	if want := f.now.Add(30 * time.Minute); !s.ExpiresAt.Equal(want) || view.ExpiresAt == nil || !view.ExpiresAt.Equal(want) {
		t.Fatalf("the session expires at %v, the key at %v; want both at %v", s.ExpiresAt, view.ExpiresAt, want)
	}
	// A key that outlives the session does not lengthen it.
	long, _, err := f.svc.CreateKey(f.ctx, "long", Viewer, 48*time.Hour, "test")
	f.must(err)
	lp, err := f.svc.Authenticate(f.ctx, long)
	f.must(err)
	_, ls, err := f.svc.OpenSession(f.ctx, lp, time.Hour)
	f.must(err)
	if !ls.ExpiresAt.Equal(f.now.Add(time.Hour)) {
		t.Errorf("a session of a long-lived key expires at %v", ls.ExpiresAt)
	}
	f.now = f.now.Add(29 * time.Minute)
	if _, err := f.svc.SessionOf(f.ctx, token); err != nil {
		t.Errorf("before the key expires: %v", err)
	}
	f.now = f.now.Add(time.Minute)
	if _, err := f.svc.SessionOf(f.ctx, token); !errors.Is(err, ErrNoSession) {
		t.Errorf("when the key expires: %v", err)
	}
}

// TestSessionsWithoutKeys: a session of a token's subject (no key) lives
// its time; one of a key that is not there is refused.
func TestSessionsWithoutKeys(t *testing.T) {
	f := newFixture(t, nil)
	p := Principal{Name: "oidc:ana@example.com", Role: Admin}
	token, s, err := f.svc.OpenSession(f.ctx, p, 10*time.Minute)
	f.must(err)
	got, err := f.svc.SessionOf(f.ctx, token)
	if err != nil || got.Principal != p || got.CSRF != s.CSRF {
		t.Fatalf("%+v %v", got, err)
	}
	for _, tc := range []struct {
		p    Principal
		ttl  time.Duration
		want string
	}{
		{Principal{Name: "nobody"}, time.Hour, "field:session"},
		{p, 0, "field:session"},
		{p, -time.Minute, "field:session"},
	} {
		_, _, err := f.svc.OpenSession(f.ctx, tc.p, tc.ttl)
		wantErr(t, err, tc.want)
	}
	if _, _, err := f.svc.OpenSession(f.ctx, Principal{Name: "key:gone", Role: Viewer, KeyID: "0123456789abcdef"}, time.Hour); err == nil ||
		!errors.Is(err, ErrBadKey) {
		t.Errorf("a session of a key that is not there: %v", err)
	}

	// A stored session of a key since deleted, or with a role that is
	// not one, is no session.
	ss := f.sessionStoreOf()
	for i, u := range []metadata.UISession{
		{Principal: "key:gone", Role: "viewer", KeyID: "0123456789abcdef"},
		{Principal: "root", Role: "root"},
	} {
		tok := SessionPrefix + "stored" + string(rune('a'+i))
		u.Hash, u.CSRF, u.CreatedAt, u.ExpiresAt = hashSecret(tok), "csrf", f.now, f.now.Add(time.Hour)
		f.must(ss.CreateUISession(f.ctx, u))
		if _, err := f.svc.SessionOf(f.ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Errorf("stored session %+v: %v", u, err)
		}
	}
}

// noSessions is a store that keeps no sessions.
type noSessions struct{ Store }

// brokenSessions is a store whose sessions cannot be read or written.
type brokenSessions struct {
	Store
	pruned int
}

var errSessionsBroken = errors.New("sessions broken")

func (b *brokenSessions) CreateUISession(context.Context, metadata.UISession) error {
	return errSessionsBroken
}
func (b *brokenSessions) GetUISession(context.Context, string) (metadata.UISession, error) {
	return metadata.UISession{}, errSessionsBroken
}
func (b *brokenSessions) DeleteUISession(context.Context, string) error { return errSessionsBroken }
func (b *brokenSessions) PruneUISessions(context.Context, time.Time) (int64, error) {
	b.pruned++
	return 0, errSessionsBroken
}

// TestSessionStores: a store without sessions makes them unavailable; a
// store that fails is an error, not "no session".
func TestSessionStores(t *testing.T) {
	f := newFixture(t, nil)
	f.svc.Store = noSessions{f.store}
	p := Principal{Name: "ana", Role: Viewer}
	_, _, err := f.svc.OpenSession(f.ctx, p, time.Hour)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNoSessionStore) {
		t.Errorf("OpenSession without sessions: %v", err)
	}
	if _, err := f.svc.SessionOf(f.ctx, SessionPrefix+"x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("SessionOf without sessions: %v", err)
	}
	// A token that is not a session's is no session, whatever the store.
	if _, err := f.svc.SessionOf(f.ctx, "shp_x"); !errors.Is(err, ErrNoSession) {
		t.Errorf("SessionOf of a key: %v", err)
	}
	if err := f.svc.CloseSession(f.ctx, SessionPrefix+"x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("CloseSession without sessions: %v", err)
	}

	b := &brokenSessions{Store: f.store}
	f.svc.Store = b
	if _, _, err := f.svc.OpenSession(f.ctx, p, time.Hour); !errors.Is(err, errSessionsBroken) || b.pruned != 1 {
		t.Errorf("OpenSession on a broken store: %v (pruned %d)", err, b.pruned)
	}
	if _, err := f.svc.SessionOf(f.ctx, SessionPrefix+"x"); !errors.Is(err, errSessionsBroken) || errors.Is(err, ErrNoSession) {
		t.Errorf("SessionOf on a broken store: %v", err)
	}
	if err := f.svc.CloseSession(f.ctx, SessionPrefix+"x"); !errors.Is(err, errSessionsBroken) {
		t.Errorf("CloseSession on a broken store: %v", err)
	}
}
