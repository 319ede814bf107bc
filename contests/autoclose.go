package contests

import (
	"context"
	"fmt"
	"time"
)

// CloseDue closes every contest whose end has passed: a prize draw is
// drawn once its close has settled (Settle after ends_at), a leaderboard
// contest's standings are frozen at once. Every node runs it: Draw is
// decided by one versioned save and its payments are keyed, so nodes
// racing on one contest produce one result and pay each place once. A
// contest that cannot close yet (its board still building) is retried by
// the next run; its error does not stop the others. It returns how many
// contests it closed or found closed.
func (s *Service) CloseDue(ctx context.Context) (int, error) {
	open, err := s.Store.OpenContests(ctx)
	if err != nil {
		return 0, fmt.Errorf("contests: close job: %w", err)
	}
	now, closed := s.Now(), 0
	var first error
	for _, c := range open {
		if ready := c.EndsAt; now.Before(ready) || (c.Kind == DrawKind && now.Before(ready.Add(s.Settle))) {
			continue
		}
		if _, err := s.Draw(ctx, c.Tenant, c.ID); err != nil {
			s.Logger.WarnContext(ctx, "contests: close job: contest not closed; the next run retries",
				"tenant", c.Tenant, "contest", c.ID, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		closed++
	}
	return closed, first
}

// RunClose runs CloseDue every interval until ctx ends.
func (s *Service) RunClose(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.CloseDue(ctx); err == nil && n > 0 {
			s.Logger.InfoContext(ctx, "contests: close job", "closed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
