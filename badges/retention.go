package badges

import (
	"context"
	"fmt"
	"time"

	"github.com/questline/questline/retention"
)

// RetentionTargets lists the contributions of each of tenant's badges
// with how far back a published badge's rule reads them: every period it
// still counts, read whole (an all-time badge reads them all, for ever).
func (s *Service) RetentionTargets(ctx context.Context, tenant string, now time.Time) ([]retention.Target, error) {
	ts, err := retention.Paged(func(after string) ([]Badge, error) {
		return s.store.ListBadges(ctx, tenant, "", after, retention.PageSize)
	}, func(b Badge) string { return b.ID }, func(b Badge) retention.Target {
		var reach time.Duration
		if b.Status == Published {
			reach = b.Rule.Window.Reach(now)
		}
		return retention.Target{
			What: "contributions of badge " + b.ID, Reach: reach,
			Prune: func(ctx context.Context, before time.Time, progress func(int64)) (int64, error) {
				return s.store.PruneBadgeContributions(ctx, tenant, b.ID, before, progress)
			},
		}
	})
	if err != nil {
		return nil, fmt.Errorf("badges: retention targets: %w", err)
	}
	return ts, nil
}
