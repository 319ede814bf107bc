package loyalty

import (
	"context"
	"fmt"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
)

// Reverser takes back a credit by its ledger key, once (points.Service).
type Reverser interface {
	Reverse(ctx context.Context, tenant, key string) (points.Change, error)
}

// RefundType is the trusted event a brand's back end sends when a
// purchase is refunded; its prop purchase_event_id names the purchase.
const RefundType = "purchase.refunded"

// Reversal is what undoing one event's earn payouts took back.
type Reversal struct {
	EventID string       `json:"event_id"`
	Changes []ReverseHit `json:"reversed"`
}

// ReverseHit is one payout taken back.
type ReverseHit struct {
	RuleID string `json:"rule_id"`
	User   string `json:"user_id"`
	Points int64  `json:"points" doc:"What the reversal took back: the payout, less what the user had spent and could not cover."`
}

// ReverseEvent takes back every earn rule payout of the event (rules of
// any status), exactly once each: ledger reversals are keyed by the
// payout's key. Boards that counted the points are lowered; the user's
// qualifying value for tiers drops, which their next review sees.
func (s *Service) ReverseEvent(ctx context.Context, tenant, eventID string) (Reversal, error) {
	if s.Reverser == nil {
		return Reversal{}, errs.New(errs.Unavailable, "reversal-unavailable", "reversals are not wired")
	}
	out := Reversal{EventID: eventID, Changes: []ReverseHit{}}
	for after := ""; ; {
		page, err := s.Store.ListEarnRules(ctx, tenant, after, 500)
		if err != nil {
			return Reversal{}, fmt.Errorf("loyalty: reverse %s: %w", eventID, err)
		}
		for _, r := range page {
			ch, err := s.Reverser.Reverse(ctx, tenant, EarnKey(r.ID, eventID))
			if e, ok := errs.As(err); ok && (e.Code == points.ErrNoCredit || e.Code == points.ErrNotACredit) {
				continue // the rule paid nothing for it
			}
			if err != nil {
				return Reversal{}, fmt.Errorf("loyalty: reverse %s of rule %s: %w", eventID, r.ID, err)
			}
			out.Changes = append(out.Changes, ReverseHit{RuleID: r.ID, User: ch.User, Points: taken(ch)})
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// taken sums what a reversal took from the user's lots.
func taken(ch points.Change) int64 {
	var n int64
	for _, t := range ch.Takes {
		n += t.Amount
	}
	return n
}

// refund handles purchase.refunded: the earn payouts of the purchase it
// names are reversed, once.
func (s *Service) refund(ctx context.Context, ev events.Event, r *events.Result) error {
	if ev.Type != RefundType || s.Reverser == nil {
		return nil
	}
	id, _ := ev.Props["purchase_event_id"].(string)
	if id == "" {
		return nil // nothing named: nothing to take back
	}
	rev, err := s.ReverseEvent(ctx, ev.Tenant, id)
	if err != nil {
		return err
	}
	for _, h := range rev.Changes {
		if h.User == ev.User {
			r.Points = append(r.Points, events.Points{Amount: -h.Points, Reason: "refund of " + id})
		}
	}
	return nil
}
