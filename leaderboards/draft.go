package leaderboards

import (
	"context"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
)

// Draft validates in exactly as Create does and returns the board it
// would define, without storing it: no id, no creation time (so every
// event of its window scores, not only those after it was created). A
// backtest replays stored events or the ledger into it.
func (s *Service) Draft(ctx context.Context, tenant string, in CreateInput) (Board, error) {
	b, err := in.board()
	if err != nil {
		return Board{}, err
	}
	if b.Source == FromEvents {
		if err := events.CheckType(ctx, s.Types, tenant, b.EventType, "body.event_type"); err != nil {
			return Board{}, err
		}
	}
	b.Tenant = tenant
	return b, nil
}

// Scores reports whether ev scores on event board b, and its value (see
// scores: the event type, the window's late-arrival grace, the scope,
// the prop and max_per_event).
func (b Board) Scores(ev events.Event) (int64, bool) { return b.scores(ev) }

// PaidBy reports whether ledger entry e counts on points board b.
func (b Board) PaidBy(e points.Entry) bool { return b.paidBy(e) }

// PeriodAt returns the period of b holding t; ok is false outside a
// custom window.
func (b Board) PeriodAt(t time.Time) (Period, bool) { return b.periodAt(t) }

// Join folds one more value v (at vAt) into a member's entry (score, at)
// as the engines and rebuilds do: Sum adds (keeping the latest time),
// Best keeps the higher (the earlier on a tie), Latest the later.
func (agg Aggregation) Join(score int64, at time.Time, v int64, vAt time.Time) (int64, time.Time) {
	a := acc{score: score, at: at}
	a.join(agg, v, vAt)
	return a.score, a.at
}
