package leaderboards

import (
	"context"
	"fmt"

	"github.com/questline/questline/events"
)

// HandleEvent scores ev on every event board it counts for. The score row
// is keyed by event and folded into the member's total only when new, so
// running it again for the same event (a retry, the sweeper after a crash,
// a concurrent copy) changes nothing. An excluded user's scores are kept
// but not ranked, as their points are on points boards: reinstating them
// ranks what the source says.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	tb, err := s.boards(ctx, ev.Tenant)
	if err != nil {
		return nil, err
	}
	for _, b := range tb.boards {
		v, ok := b.scores(ev)
		if !ok {
			continue
		}
		p, ok := b.periodAt(ev.OccurredAt)
		if !ok || b.expired(p, s.Now()) {
			continue
		}
		sc := Score{Tenant: ev.Tenant, Board: b.ID, User: ev.User, EventID: ev.ID, Value: v, At: ev.OccurredAt,
			Period: p.Name, Aggregation: b.Aggregation}
		f, err := s.Store.FoldScore(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("leaderboards: score event %s on %s: %w", ev.ID, b.ID, err)
		}
		if tb.excluded[b.ID][ev.User] {
			continue
		}
		var known *TotalRow
		if f.Known {
			known = &f.Total
		}
		if err := s.tryRefresh(ctx, b, p, ev.User, ev.OccurredAt, known); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// Preview reports whether ev scores on no event board, so that the event
// can be stored already processed. It writes nothing.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	tb, err := s.boards(ctx, ev.Tenant)
	if err != nil {
		return false, err
	}
	for _, b := range tb.boards {
		if _, ok := b.scores(ev); ok {
			return false, nil
		}
	}
	return true, nil
}
