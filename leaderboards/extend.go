package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Extend moves a custom-window board's close to endsAt, later than its
// current one, keeping everything it counted: a custom window has one
// period, named "custom" whatever its bounds, so the scores and totals
// folded so far stay the period's and the members keep their places. It
// is how a contest is extended. Every node drops its cached definition at
// once (through the bus), so scores after the old close count on all of
// them. Extending to the current close again changes nothing, so a
// caller may retry.
func (s *Service) Extend(ctx context.Context, tenant, id string, endsAt time.Time) (Board, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Board{}, err
	}
	end := endsAt.UTC().Truncate(time.Millisecond)
	switch {
	case b.Window != Custom:
		return Board{}, errs.New(errs.Conflict, "not-custom", "only a board with a custom window has a close to move")
	case end.Equal(*b.EndsAt):
		return b, nil // a retried extension
	case end.Before(*b.EndsAt):
		return Board{}, errs.New(errs.Unprocessable, "bad-window", "ends_at must not be before the current close, %s", b.EndsAt.Format(time.RFC3339)).OnField("body.ends_at")
	case end.After(MaxTime):
		return Board{}, errs.New(errs.Unprocessable, "bad-window", "ends_at must not be after %s", MaxTime.Format(time.RFC3339)).OnField("body.ends_at")
	}
	if err := s.Store.ExtendBoard(ctx, tenant, id, end); errors.Is(err, errs.ErrNotFound) {
		return Board{}, errs.New(errs.NotFound, "board-not-found", "no leaderboard %q", id)
	} else if err != nil {
		return Board{}, fmt.Errorf("leaderboards: extend %s: %w", id, err)
	}
	s.forget(ctx, tenant)
	b.EndsAt = &end
	if p, ok := b.periodAt(*b.StartsAt); ok {
		s.keepFor(ctx, b, p, engineKey(tenant, id, p.Name))
	}
	return b, nil
}
