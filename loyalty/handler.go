package loyalty

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
)

// maxFoldTries bounds the retries of a mark whose seq another event of
// the same user took meanwhile; each retry means another event was
// counted, so a handful covers any real concurrency of one user.
const maxFoldTries = 16

// HandleEvent pays every active earn rule the event matches. A payout is
// the ledger entry "earn:{rule}:{event}", so a replay pays nothing twice;
// a stateful rule's count and caps fold through the marks, which a replay
// reads back instead of counting again.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, r *events.Result) ([]events.Event, error) {
	if err := s.refund(ctx, ev, r); err != nil {
		return nil, err
	}
	sys, err := s.completeReferral(ctx, ev, r)
	if err != nil {
		return nil, err
	}
	if err := s.payEarnRules(ctx, ev, r); err != nil {
		return nil, err
	}
	return sys, s.foldSpend(ctx, ev)
}

// payEarnRules pays every matching active earn rule.
func (s *Service) payEarnRules(ctx context.Context, ev events.Event, r *events.Result) error {
	ps, err := s.matching(ctx, ev)
	if err != nil || len(ps) == 0 {
		return err
	}
	member, err := s.member(ctx, ev, ps)
	if err != nil {
		return err
	}
	for _, p := range ps {
		payout, err := s.price(ctx, p, ev, member)
		if err != nil {
			return err
		}
		if payout <= 0 {
			continue
		}
		e, t, err := s.Ledger.Credit(ctx, creditFor(p.def, ev, payout))
		if err != nil {
			return fmt.Errorf("loyalty: pay earn rule %s: %w", p.def.ID, err)
		}
		r.Points = append(r.Points, events.Points{Amount: e.Amount, Reason: e.Reason, Balance: t.Balance})
	}
	return nil
}

// Preview is quiet when no active earn rule matches the event and it is
// not of the tenant's referral qualifying type.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	if ev.Type == RefundType {
		return false, nil
	}
	if prog, ok, err := s.programme(ctx, ev.Tenant); err != nil || ok && prog.Basis == tier.Spend && prog.SpendEvent == ev.Type {
		return false, err
	}
	if _, ok, err := s.qualifies(ctx, ev); err != nil || ok {
		return false, err
	}
	ps, err := s.matching(ctx, ev)
	return len(ps) == 0, err
}

// EarnKey is the ledger key of what rule paid for an event.
func EarnKey(ruleID, eventID string) string { return "earn:" + ruleID + ":" + eventID }

func (s *Service) matching(ctx context.Context, ev events.Event) ([]plan, error) {
	all, err := s.active(ctx, ev.Tenant, ev.Type)
	if err != nil {
		return nil, err
	}
	var out []plan
	for _, p := range all {
		if p.Matches(ev.Props) {
			out = append(out, p)
		}
	}
	return out, nil
}

// member reads the user's tier, and its earn multiplier in the tier
// programme, if a matching rule or the programme multiplies by tier.
func (s *Service) member(ctx context.Context, ev events.Event, ps []plan) (earn.Member, error) {
	return s.memberFor(ctx, ev.Tenant, ev.User, slices.ContainsFunc(ps, func(p plan) bool { return len(p.Rule.TierMultipliers) > 0 }))
}

// Member is who r prices user as now: their current tier and its earn
// multiplier in the tier programme, read only when r or the programme
// multiplies by tier (else no tier). Backtests price past events with it.
func (s *Service) Member(ctx context.Context, tenant, user string, r earn.Rule) (earn.Member, error) {
	return s.memberFor(ctx, tenant, user, len(r.TierMultipliers) > 0)
}

func (s *Service) memberFor(ctx context.Context, tenant, user string, byRule bool) (earn.Member, error) {
	prog, _, err := s.programme(ctx, tenant)
	if err != nil {
		return earn.Member{}, err
	}
	byProgramme := slices.ContainsFunc(prog.Tiers, func(t tier.Tier) bool { return t.EarnMultiplier != "" })
	if s.Attributes == nil || !byProgramme && !byRule {
		return earn.Member{}, nil
	}
	a, _, err := s.Attributes.GetAttributes(ctx, tenant, user)
	if err != nil {
		return earn.Member{}, fmt.Errorf("loyalty: tier of %s: %w", user, err)
	}
	m := earn.Member{Tier: a.Tier}
	if r := prog.Rank(a.Tier); r >= 0 {
		m.Multiplier = prog.Tiers[r].EarnMultiplier
	}
	return m, nil
}

// price returns what p pays for ev. A stateless rule prices the event
// alone; a stateful one folds it into the user's chain of marks once.
func (s *Service) price(ctx context.Context, p plan, ev events.Event, m earn.Member) (int64, error) {
	if !p.Stateful() {
		payout, _ := p.Pay(ev.Props, m, ev.OccurredAt, earn.State{})
		return payout, nil
	}
	mk, err := s.fold(ctx, p.def.ID, p.Plan, ev, m)
	return mk.Payout, err
}

// fold counts ev once in the chain of marks of (chain, user) under plan,
// and returns its mark: the one stored first for the event, on a replay.
func (s *Service) fold(ctx context.Context, chain string, plan earn.Plan, ev events.Event, m earn.Member) (Mark, error) {
	for range maxFoldTries {
		last, found, err := s.Store.LastEarnMark(ctx, ev.Tenant, chain, ev.User)
		if err != nil {
			return Mark{}, fmt.Errorf("loyalty: fold %s: %w", chain, err)
		}
		if found && last.EventID == ev.ID {
			return last, nil
		}
		mk := Mark{Tenant: ev.Tenant, Rule: chain, User: ev.User, Seq: last.Seq + 1, EventID: ev.ID, At: ev.OccurredAt}
		mk.Payout, mk.State = plan.Pay(ev.Props, m, ev.OccurredAt, last.State)
		stored, _, err := s.Store.AppendEarnMark(ctx, mk)
		if errors.Is(err, errs.ErrDuplicate) {
			continue // another event took the seq: fold after it
		}
		if err != nil {
			return Mark{}, fmt.Errorf("loyalty: fold %s: %w", chain, err)
		}
		return stored, nil
	}
	return Mark{}, fmt.Errorf("loyalty: fold %s for %s: too much contention", chain, ev.User)
}

func creditFor(r EarnRule, ev events.Event, amount int64) points.Credit {
	return points.Credit{Tenant: ev.Tenant, User: ev.User, Amount: amount, Key: EarnKey(r.ID, ev.ID),
		Reason: "earn rule: " + r.Name, EventID: ev.ID}
}
