package badges

import (
	"context"
	"fmt"
	"slices"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
)

// UserData is what a user's erasure needs of the badge store.
type UserData interface {
	// EraseBadgeUser deletes the user's badge contributions and moves
	// their awards to pseudonym: limited editions stay numbered exactly
	// (awards are never deleted, see claimEdition). Repeating it changes
	// nothing.
	EraseBadgeUser(ctx context.Context, tenant, user, pseudonym string) error
}

// UserExport is the badges section of a user's data export.
type UserExport struct {
	Badges []PlayerBadge `json:"badges" doc:"Badges the user holds, held or has progress towards, with their awards, as the user sees them."`
}

// Export returns the user's awards and badge progress.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	views, err := s.ForPlayer(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("badges: export %s: %w", user, err)
	}
	out := UserExport{Badges: []PlayerBadge{}}
	for _, b := range views {
		if len(b.Awards) > 0 || slices.ContainsFunc(b.Progress, func(g events.GoalProgress) bool { return g.Current > 0 }) {
			out.Badges = append(out.Badges, b)
		}
	}
	return "badges", out, nil
}

// Erase removes the user's badge progress and anonymises their awards.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.EraseBadgeUser(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("badges: erase %s: %w", user, err)
	}
	return nil
}
