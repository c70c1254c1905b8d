package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
)

// Resolution is a person's way forward for an escalated action: one of
// the options it offers (for an ambiguous date column, a layout such as
// "%d/%m/%Y" or its name, "day/month/year").
type Resolution struct {
	ActionID int64
	Choice   string
	By       string
	Reason   string
}

// Resolve records a person's choice on an escalated action: the action
// becomes resolved, its strategy follows the choice on the same subject
// from the next run (as if a plan with it were approved), and the choice
// becomes a labeled example of the action's category for the next
// training. A choice the action does not offer is refused, as is any
// choice on an action that offers none (the error says what to do
// instead).
func (s *Service) Resolve(ctx context.Context, r Resolution) (ActionView, error) {
	if strings.TrimSpace(r.Choice) == "" {
		return ActionView{}, invalid("choice", "is required: one of the options the escalated action offers")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return ActionView{}, invalid("reason", "a resolution needs a reason")
	}
	a, err := s.Store.GetAction(ctx, r.ActionID)
	if err != nil {
		return ActionView{}, notFound(err)
	}
	if a.Status != "escalated" {
		return ActionView{}, fmt.Errorf("%w: action #%d is %s: only an escalated action can be resolved", ErrConflict, a.ID, a.Status)
	}
	_, params, err := healing.Choose(a, r.Choice)
	switch {
	case errors.Is(err, healing.ErrNoOptions):
		return ActionView{}, fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, healing.ErrNotOffered):
		return ActionView{}, invalid("choice", "%v", err)
	case err != nil:
		return ActionView{}, err
	}
	if err := s.Store.ResolveAction(ctx, a.ID, r.By, params, r.Reason); err != nil {
		if errors.Is(err, metadata.ErrInvalid) {
			return ActionView{}, fmt.Errorf("%w: action #%d was decided meanwhile: %w", ErrConflict, a.ID, err)
		}
		return ActionView{}, err
	}
	if c := healing.Category(a.Category); c.Valid() {
		if err := s.learn(ctx, a, c); err != nil {
			return ActionView{}, err
		}
	}
	return s.Action(ctx, a.ID)
}
