package analytics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty/earn"
)

// EarnBacktest is a replay of stored events through an earn rule.
type EarnBacktest = Job[EarnResult]

// EarnResult is what an earn rule would have paid.
type EarnResult struct {
	Matched    int64       `json:"users_matched" doc:"Users with at least one event the rule matches."`
	Paid       int64       `json:"users_paid" doc:"Users it would have paid at least one point."`
	Events     int64       `json:"matching_events"`
	Payouts    int64       `json:"payouts" doc:"Events that would have paid, one ledger entry each."`
	Points     int64       `json:"points" doc:"Points it would have paid: the liability the rule adds."`
	PerWeek    int64       `json:"points_per_week" doc:"Points per 7 days over the replayed days, rounded."`
	Capped     int64       `json:"points_capped" doc:"Points the caps withheld (what the rule would have paid without caps, less points)."`
	WithTier   int64       `json:"users_with_tier" doc:"Users priced with a tier. The replay prices every event at the user's current tier (the rule's tier_multipliers entry, else the tier programme's earn multiplier), read once per user, and only when the rule or the programme multiplies by tier; the others are priced without one."`
	Daily      []DayPoints `json:"daily" doc:"Payouts and points per UTC day the events occurred, oldest first."`
	FirstUsers []string    `json:"sample_users" doc:"Up to 20 users it would have paid, first paid first."`
}

// DayPoints is what an earn rule would have paid on one day.
type DayPoints struct {
	Date    string `json:"date"`
	Payouts int64  `json:"payouts"`
	Points  int64  `json:"points"`
}

// EarnDraft is the earn rule a backtest replays.
type EarnDraft struct {
	Tenant, ID string
	Plan       earn.Plan
	// Member prices a user (their tier); nil prices everyone without one.
	Member func(ctx context.Context, user string) (earn.Member, error)
}

// StartEarnBacktest checks the earn rule (any status: a paused one is the
// draft) and starts replaying the last days days of events through it.
func (s *Service) StartEarnBacktest(ctx context.Context, tenant, id string, days int) (EarnBacktest, error) {
	if s.bt.EarnRules == nil {
		return EarnBacktest{}, errs.New(errs.Unprocessable, "backtest-unsupported", "this server does not replay earn rules")
	}
	r, err := s.bt.EarnRules(ctx, tenant, id)
	if err != nil {
		return EarnBacktest{}, err
	}
	p, err := earn.Compile(r)
	if err != nil {
		return EarnBacktest{}, fmt.Errorf("analytics: stored earn rule %s: %w", id, err)
	}
	d := EarnDraft{Tenant: tenant, ID: id, Plan: p}
	if m := s.bt.Members; m != nil {
		d.Member = func(ctx context.Context, user string) (earn.Member, error) { return m(ctx, tenant, user, r) }
	}
	return startJob(ctx, s, &s.bt.earn, tenant, "earn_rule", id, days, func(ctx context.Context, from time.Time, progress func(int64, time.Time)) (EarnResult, error) {
		return s.ReplayEarn(ctx, d, from, progress)
	}), nil
}

// EarnBacktest returns a job of the earn rule.
func (s *Service) EarnBacktest(tenant, id, jobID string) (EarnBacktest, error) {
	return findJob(&s.bt.earn, tenant, "earn_rule", id, jobID)
}

// earnRun is one user's replay state on an earn rule.
type earnRun struct {
	member earn.Member
	state  earn.State // the folded count and cap tallies
	paid   int64
}

// ReplayEarn prices the tenant's events received since from with d's plan
// as the live path does (event type and filters, rate, fixed or every
// Nth, caps per local day, week and month folded per user, campaign
// windows by occurred_at, stacking), in receipt order, and writes
// nothing. Not replayed: refunds (a refund takes back a payout the live
// path made) and referrals. Memory grows with the users it matches.
func (s *Service) ReplayEarn(ctx context.Context, d EarnDraft, from time.Time, progress func(int64, time.Time)) (EarnResult, error) {
	runs := map[string]*earnRun{}
	var res EarnResult
	daily := map[string]*DayPoints{}
	free := d.Plan
	free.Caps = earn.Caps{}
	err := s.scanSince(ctx, d.Tenant, from, progress, func(ev events.Event) error {
		if ev.User == "" || ev.Type != d.Plan.EventType || !d.Plan.Matches(ev.Props) {
			return nil
		}
		u, err := d.run(ctx, runs, ev.User, &res)
		if err != nil {
			return err
		}
		res.Events++
		prev := u.state
		payout, next := d.Plan.Pay(ev.Props, u.member, ev.OccurredAt, prev)
		if d.Plan.Stateful() {
			u.state = next
		}
		if d.Plan.Caps != (earn.Caps{}) {
			uncapped, _ := free.Pay(ev.Props, u.member, ev.OccurredAt, prev)
			res.Capped += uncapped - payout
		}
		if payout <= 0 {
			return nil
		}
		res.add(ev, payout, u, daily)
		return nil
	})
	if err != nil {
		return EarnResult{}, fmt.Errorf("analytics: backtest earn rule %s: %w", d.ID, err)
	}
	res.Matched = int64(len(runs))
	if span := s.now().Sub(from); span > 0 {
		res.PerWeek = int64(math.Round(float64(res.Points) * (7 * 24 * time.Hour).Seconds() / span.Seconds()))
	}
	res.Daily = make([]DayPoints, 0, len(daily))
	for _, p := range daily {
		res.Daily = append(res.Daily, *p)
	}
	sort.Slice(res.Daily, func(i, j int) bool { return res.Daily[i].Date < res.Daily[j].Date })
	return res, nil
}

// run returns the user's replay state, pricing them the first time.
func (d EarnDraft) run(ctx context.Context, runs map[string]*earnRun, user string, res *EarnResult) (*earnRun, error) {
	if u := runs[user]; u != nil {
		return u, nil
	}
	u := &earnRun{}
	if d.Member != nil {
		m, err := d.Member(ctx, user)
		if err != nil {
			return nil, err
		}
		u.member = m
		if m.Tier != "" {
			res.WithTier++
		}
	}
	runs[user] = u
	return u, nil
}

// add counts one payout.
func (res *EarnResult) add(ev events.Event, payout int64, u *earnRun, daily map[string]*DayPoints) {
	if u.paid == 0 {
		res.Paid++
		if len(res.FirstUsers) < sampleUsers {
			res.FirstUsers = append(res.FirstUsers, ev.User)
		}
	}
	u.paid += payout
	res.Payouts++
	res.Points += payout
	day := ev.OccurredAt.UTC().Format(time.DateOnly)
	p := daily[day]
	if p == nil {
		p = &DayPoints{Date: day}
		daily[day] = p
	}
	p.Payouts++
	p.Points += payout
}
