package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// UISession is a signed-in browser session of the web UI. Its token is
// never kept: Hash is the hex SHA-256 of it.
type UISession struct {
	Hash      string
	Principal string
	Role      string
	// KeyID is the API key the session was opened with ("" for an OpenID
	// Connect sign-in): revoking the key ends the session.
	KeyID string
	// CSRF is the token every form of the session carries.
	CSRF                 string
	CreatedAt, ExpiresAt time.Time
}

// CreateUISession stores a session.
func (s *sqlStore) CreateUISession(ctx context.Context, u UISession) error {
	if u.Hash == "" || u.Role == "" || u.CSRF == "" || u.ExpiresAt.IsZero() {
		return fmt.Errorf("create ui session: %w: a session needs a hash, a role, a csrf token and an expiry", ErrInvalid)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	_, err := s.exec(ctx, `INSERT INTO ui_sessions (hash, principal, role, key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.Hash, u.Principal, u.Role, u.KeyID, u.CSRF, s.d.timeArg(u.CreatedAt), s.d.timeArg(u.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create ui session: %w", err)
	}
	return nil
}

// GetUISession returns the session with the token hash; ErrNotFound when
// there is none (expired ones are returned: the caller decides).
func (s *sqlStore) GetUISession(ctx context.Context, hash string) (UISession, error) {
	var u UISession
	err := s.queryRow(ctx, `SELECT hash, principal, role, key_id, csrf, created_at, expires_at FROM ui_sessions WHERE hash = ?`, hash).
		Scan(&u.Hash, &u.Principal, &u.Role, &u.KeyID, &u.CSRF, scanTime(&u.CreatedAt), scanTime(&u.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return UISession{}, fmt.Errorf("ui session: %w", ErrNotFound)
	}
	if err != nil {
		return UISession{}, fmt.Errorf("get ui session: %w", err)
	}
	return u, nil
}

// DeleteUISession ends a session (signing out); none is not an error.
func (s *sqlStore) DeleteUISession(ctx context.Context, hash string) error {
	if _, err := s.exec(ctx, `DELETE FROM ui_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete ui session: %w", err)
	}
	return nil
}

// PruneUISessions deletes the sessions that expired before t and returns
// how many.
func (s *sqlStore) PruneUISessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM ui_sessions WHERE expires_at < ?`, s.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("prune ui sessions: %w", err)
	}
	return res.RowsAffected()
}
