package metadata

import (
	"context"
	"fmt"
)

// ResolveAction implements Store.
func (s *sqlStore) ResolveAction(ctx context.Context, id int64, by, params, reason string) error {
	res, err := s.exec(ctx, `UPDATE healing_actions SET status = 'resolved', approved_by = ?, params = ?, reason = reason || ? WHERE id = ? AND status = 'escalated'`,
		by, params, "; resolved by "+by+": "+reason, id)
	if err != nil {
		return fmt.Errorf("resolve action %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if _, gerr := s.GetAction(ctx, id); gerr != nil {
			return gerr
		}
		return fmt.Errorf("resolve action %d: %w: only an escalated action can be resolved", id, ErrInvalid)
	}
	return nil
}
