package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CreateAPIKey implements Store.
func (s *sqlStore) CreateAPIKey(ctx context.Context, k APIKey) error {
	if k.ID == "" || k.Hash == "" || k.Role == "" {
		return fmt.Errorf("create api key: %w: a key needs an id, a hash and a role", ErrInvalid)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	_, err := s.exec(ctx, `INSERT INTO api_keys (id, name, role, hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Role, k.Hash, k.CreatedBy, s.d.timeArg(k.CreatedAt), s.d.timeArg(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.ID, err)
	}
	return nil
}

const apiKeyColumns = `id, name, role, hash, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanAPIKey(sc interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	err := sc.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.CreatedBy, scanTime(&k.CreatedAt), scanTime(&k.ExpiresAt),
		scanTime(&k.LastUsed), scanTime(&k.Revoked))
	return k, err
}

// GetAPIKey implements Store.
func (s *sqlStore) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	k, err := scanAPIKey(s.queryRow(ctx, (`SELECT ` + apiKeyColumns + ` FROM api_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("api key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// ListAPIKeys implements Store.
func (s *sqlStore) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements Store.
func (s *sqlStore) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.d.timeArg(at), id)
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if _, gerr := s.GetAPIKey(ctx, id); gerr != nil {
			return gerr
		}
	}
	return nil
}

// TouchAPIKey implements Store.
func (s *sqlStore) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, s.d.timeArg(at), id); err != nil {
		return fmt.Errorf("record use of api key %s: %w", id, err)
	}
	return nil
}

// RecordAudit implements Store.
func (s *sqlStore) RecordAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.AddAudit(ctx, e)
	return err
}

// AddAudit implements Store.
func (s *sqlStore) AddAudit(ctx context.Context, e AuditEntry) (int64, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.Count = max(e.Count, 1)
	var id int64
	err := s.queryRow(ctx, `INSERT INTO api_audit (at, principal, role, method, path, status, remote, detail, occurrences, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.d.timeArg(e.At), e.Principal, e.Role, e.Method, e.Path, e.Status, e.Remote, e.Detail, e.Count, s.d.timeArg(e.LastAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record audit entry: %w", err)
	}
	return id, nil
}

// CountAudit implements Store.
func (s *sqlStore) CountAudit(ctx context.Context, id int64, count int, last time.Time) error {
	res, err := s.exec(ctx, `UPDATE api_audit SET occurrences = ?, last_seen_at = ? WHERE id = ?`, max(count, 1), s.d.timeArg(last), id)
	if err != nil {
		return fmt.Errorf("count audit entry %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("audit entry %d: %w", id, ErrNotFound)
	}
	return nil
}

// ListAudit implements Store.
func (s *sqlStore) ListAudit(ctx context.Context, limit int) ([]AuditEntry, error) {
	return s.QueryAudit(ctx, AuditQuery{Limit: limit})
}

// QueryAudit implements Store.
func (s *sqlStore) QueryAudit(ctx context.Context, aq AuditQuery) ([]AuditEntry, error) {
	q := `SELECT id, at, principal, role, method, path, status, remote, detail, occurrences, last_seen_at FROM api_audit`
	var args []any
	switch aq.Callers {
	case AuditAllCallers:
	case AuditAuthenticated:
		q += ` WHERE principal <> ?`
		args = append(args, AnonymousPrincipal)
	case AuditAnonymous:
		q += ` WHERE principal = ?`
		args = append(args, AnonymousPrincipal)
	default:
		return nil, fmt.Errorf("list audit: %w: callers %q", ErrInvalid, aq.Callers)
	}
	q += ` ORDER BY id DESC`
	if aq.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, aq.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, scanTime(&e.At), &e.Principal, &e.Role, &e.Method, &e.Path, &e.Status, &e.Remote,
			&e.Detail, &e.Count, scanTime(&e.LastAt)); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneAudit implements Store.
func (s *sqlStore) PruneAudit(ctx context.Context, before time.Time, keepAnonymous int) (int64, error) {
	var deleted int64
	if !before.IsZero() {
		res, err := s.exec(ctx, `DELETE FROM api_audit WHERE at < ?`, s.d.timeArg(before))
		if err != nil {
			return 0, fmt.Errorf("prune audit: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += n
	}
	if keepAnonymous > 0 {
		// The newest keepAnonymous stay: the id of the next one down
		// bounds the rest (NULL, so none, when there are not that many).
		res, err := s.exec(ctx, `DELETE FROM api_audit WHERE principal = ? AND id <= (
			SELECT id FROM api_audit WHERE principal = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			AnonymousPrincipal, AnonymousPrincipal, keepAnonymous)
		if err != nil {
			return deleted, fmt.Errorf("prune audit: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += n
	}
	return deleted, nil
}

// AddQualityRules implements Store.
func (s *sqlStore) AddQualityRules(ctx context.Context, rs []StoredRule) ([]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("add quality rules: %w", err)
	}
	defer tx.Rollback()
	ids := make([]int64, len(rs))
	for i, r := range rs {
		if r.Pipeline == "" || r.Rule == "" {
			return nil, fmt.Errorf("add quality rule: %w: a rule needs a pipeline and a body", ErrInvalid)
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = time.Now()
		}
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO quality_rules (pipeline, rule, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			r.Pipeline, r.Rule, r.CreatedBy, s.d.timeArg(r.CreatedAt)).Scan(&ids[i])
		if err != nil {
			return nil, fmt.Errorf("add quality rule for %s: %w", r.Pipeline, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("add quality rules: %w", err)
	}
	return ids, nil
}

// ListQualityRules implements Store.
func (s *sqlStore) ListQualityRules(ctx context.Context, pipeline string) ([]StoredRule, error) {
	q := `SELECT id, pipeline, rule, created_by, created_at FROM quality_rules`
	var args []any
	if pipeline != "" {
		q += ` WHERE pipeline = ?`
		args = append(args, pipeline)
	}
	rows, err := s.query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list quality rules: %w", err)
	}
	defer rows.Close()
	var out []StoredRule
	for rows.Next() {
		var r StoredRule
		if err := rows.Scan(&r.ID, &r.Pipeline, &r.Rule, &r.CreatedBy, scanTime(&r.CreatedAt)); err != nil {
			return nil, fmt.Errorf("list quality rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
