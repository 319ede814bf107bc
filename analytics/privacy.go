package analytics

import (
	"context"
	"fmt"
)

// Export is the user's analytics section: their daily activity rows (the
// fraud signals' basis). Counters are tenant aggregates, not the user's.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	days, err := s.store.AnalyticsUserDays(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("analytics: export: %w", err)
	}
	return "analytics", map[string]any{"activity_days": days}, nil
}

// Erase drops the user's activity rows and markers; the aggregate
// counters keep what the user added, as they hold no user id.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.EraseAnalyticsUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("analytics: erase: %w", err)
	}
	// This node forgets the erased markers; another node's cache can
	// only skip a marker of a user active again later the same day or
	// week, which then counts once fewer there.
	s.marks.clear()
	return nil
}
