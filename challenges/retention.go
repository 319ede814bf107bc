package challenges

import (
	"context"
	"fmt"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/retention"
)

// RetentionTargets lists the contributions of each of tenant's challenges
// with how far back progress still reads them (see reach).
func (s *Service) RetentionTargets(ctx context.Context, tenant string, now time.Time) ([]retention.Target, error) {
	ts, err := retention.Paged(func(after string) ([]Challenge, error) {
		return s.Store.ListChallenges(ctx, tenant, "", after, retention.PageSize)
	}, func(c Challenge) string { return c.ID }, func(c Challenge) retention.Target {
		return retention.Target{
			What: "contributions of challenge " + c.ID, Reach: reach(c, now),
			Prune: func(ctx context.Context, before time.Time, progress func(int64)) (int64, error) {
				return s.Store.PruneContributions(ctx, tenant, c.ID, before, progress)
			},
		}
	})
	if err != nil {
		return nil, fmt.Errorf("challenges: retention targets: %w", err)
	}
	return ts, nil
}

// reach is how far back c's progress reads contributions. Only a
// published challenge counts events; drafts have none and an archived
// one's past periods stay readable for the retention only. A tallied rule
// (see tallied) reads its calendar periods from the tallies alone, and of a
// rolling window the contributions of the window and of its first hour.
func reach(c Challenge, now time.Time) time.Duration {
	w := c.Rule.Window
	switch {
	case c.Status != Published:
		return 0
	case tallied(c) && w.Rolling == "":
		return 0
	case tallied(c):
		return w.Reach(now) + TallyWidth + rule.FutureSkew
	}
	return w.Reach(now)
}
