package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// SessionStore keeps the web UI's sessions (their tokens' hashes).
type SessionStore interface {
	CreateUISession(ctx context.Context, u metadata.UISession) error
	GetUISession(ctx context.Context, hash string) (metadata.UISession, error)
	DeleteUISession(ctx context.Context, hash string) error
	PruneUISessions(ctx context.Context, t time.Time) (int64, error)
}

// SessionPrefix starts every web UI session token.
const SessionPrefix = "shs_"

// Errors of sessions.
var (
	// ErrNoSession: the token names no live session (unknown, expired,
	// signed out, or its API key revoked or expired).
	ErrNoSession = errors.New("no such session")
	// ErrNoSessionStore: the metadata store keeps no sessions.
	ErrNoSessionStore = errors.New("the metadata store keeps no web sessions")
)

// Session is a signed-in web UI session: who, with which role, and the
// token its forms carry against cross-site requests.
type Session struct {
	Principal Principal
	CSRF      string
	ExpiresAt time.Time
}

func (s *Service) sessionStore() (SessionStore, error) {
	ss, ok := s.Store.(SessionStore)
	if !ok {
		return nil, fmt.Errorf("session: %w: %w", ErrUnavailable, ErrNoSessionStore)
	}
	return ss, nil
}

// randomToken is 256 random bits, as base32 text.
func randomToken() string {
	return rand.Text() + rand.Text()
}

// OpenSession signs a principal in for ttl (for an API key, never beyond
// the key's own expiry) and returns the session's token, to be kept in
// the browser's cookie; the store keeps only its hash. Expired sessions
// are pruned on the way.
func (s *Service) OpenSession(ctx context.Context, p Principal, ttl time.Duration) (string, Session, error) {
	ss, err := s.sessionStore()
	if err != nil {
		return "", Session{}, err
	}
	if p.Role == "" || ttl <= 0 {
		return "", Session{}, invalid("session", "a session needs a role and a lifetime")
	}
	now := s.now()
	if _, err := ss.PruneUISessions(ctx, now); err != nil {
		s.logger().Warn("prune expired web sessions", "err", err)
	}
	expires := now.Add(ttl)
	if p.KeyID != "" {
		k, err := s.apiKey(ctx, p.KeyID)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			return "", Session{}, ErrBadKey
		case err != nil:
			return "", Session{}, fmt.Errorf("session: %w", err)
		case !k.Revoked.IsZero():
			return "", Session{}, ErrKeyRevoked
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			return "", Session{}, ErrKeyExpired
		}
		if !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(expires) {
			expires = k.ExpiresAt
		}
	}
	token := SessionPrefix + randomToken()
	u := metadata.UISession{Hash: hashSecret(token), Principal: p.Name, Role: string(p.Role), KeyID: p.KeyID,
		CSRF: randomToken(), CreatedAt: now, ExpiresAt: expires}
	if err := ss.CreateUISession(ctx, u); err != nil {
		return "", Session{}, err
	}
	return token, Session{Principal: p, CSRF: u.CSRF, ExpiresAt: expires}, nil
}

// SessionOf returns the live session a token names. A session opened with
// an API key lives no longer than the key: revoked or expired, the
// session is over (ErrNoSession). The store failing is another error.
func (s *Service) SessionOf(ctx context.Context, token string) (Session, error) {
	if !strings.HasPrefix(token, SessionPrefix) {
		return Session{}, ErrNoSession
	}
	ss, err := s.sessionStore()
	if err != nil {
		return Session{}, err
	}
	u, err := ss.GetUISession(ctx, hashSecret(token))
	if errors.Is(err, metadata.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	if !now.Before(u.ExpiresAt) {
		return Session{}, ErrNoSession
	}
	if u.KeyID != "" {
		k, err := s.apiKey(ctx, u.KeyID)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			return Session{}, ErrNoSession
		case err != nil:
			return Session{}, fmt.Errorf("session: %w", err)
		case !k.Revoked.IsZero(), !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			return Session{}, ErrNoSession
		}
	}
	role, err := ParseRole(u.Role)
	if err != nil {
		return Session{}, ErrNoSession
	}
	return Session{Principal: Principal{Name: u.Principal, Role: role, KeyID: u.KeyID}, CSRF: u.CSRF, ExpiresAt: u.ExpiresAt}, nil
}

// CloseSession signs a session out; an unknown token is not an error.
func (s *Service) CloseSession(ctx context.Context, token string) error {
	ss, err := s.sessionStore()
	if err != nil {
		return err
	}
	return ss.DeleteUISession(ctx, hashSecret(token))
}
