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
	var out []retention.Target
	for after := ""; ; {
		bs, err := s.store.ListBadges(ctx, tenant, "", after, 500)
		if err != nil {
			return nil, fmt.Errorf("badges: retention targets: %w", err)
		}
		for _, b := range bs {
			var reach time.Duration
			if b.Status == Published {
				reach = b.Rule.Window.Reach(now)
			}
			out = append(out, retention.Target{
				What: "contributions of badge " + b.ID, Reach: reach,
				Prune: func(ctx context.Context, before time.Time, progress func(int64)) (int64, error) {
					return s.store.PruneBadgeContributions(ctx, tenant, b.ID, before, progress)
				},
			})
		}
		if len(bs) < 500 {
			return out, nil
		}
		after = bs[len(bs)-1].ID
	}
}
