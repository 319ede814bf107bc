package challenges

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
)

// state is a user's progress on a challenge in one period, folded from the
// stored contributions: per goal id, in the goal's unit.
type state map[string]int64

// state folds the user's contributions to period of c as of `at`:
//   - a rolling window takes only those in (at - span, at];
//   - a repeatable (rolling) challenge takes only those after the event
//     that completed it last, so each completion starts afresh;
//   - limits keep only the contributions that count (see counted);
//   - the rule folds the rest, replaying ordered steps by occurred_at.
//
// A rule whose progress is a plain sum per goal reads the tallies instead
// (see tallied); any other reads the contributions, of a rolling window
// only those after its start.
func (s *Service) state(ctx context.Context, c Challenge, user, period string, at time.Time, comps []Completion) (state, error) {
	if tallied(c) {
		return s.tallied(ctx, c, user, period, at, comps)
	}
	w := c.Rule.Window
	var all []Contribution
	var err error
	if w.Rolling == "" {
		all, err = s.Store.Contributions(ctx, c.Tenant, c.ID, user, period)
	} else {
		// Later contributions are read too: one may be the completion's.
		all, err = s.Store.ContributionsBetween(ctx, c.Tenant, c.ID, user, period, w.RollingFrom(at).Add(time.Millisecond), endOfTime)
	}
	if err != nil {
		return nil, err
	}
	var from time.Time
	var after *Contribution
	if w.Rolling != "" {
		from = w.RollingFrom(at)
		after = lastCompleting(all, comps)
	}
	byGoal := map[string][]rule.Contribution{}
	for _, x := range all {
		if w.Rolling != "" && (!x.At.After(from) || x.At.After(at) || after != nil && !later(x, *after)) {
			continue
		}
		byGoal[x.Goal] = append(byGoal[x.Goal], rule.Contribution{Amount: x.Amount, Key: x.Key, At: x.At})
	}
	if l := c.Limits; l != nil {
		gap, _ := time.ParseDuration(l.MinInterval)
		loc, err := rule.LoadZone(w.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		for _, g := range c.Rule.Goals {
			byGoal[g.ID] = counted(byGoal[g.ID], g.Kind == rule.Distinct, gap, l.DailyCap, loc)
		}
	}
	return state(c.Rule.Progress(byGoal)), nil
}

// The range of every tally bucket and contribution: stores keep times to
// the millisecond, and the rules bound periods to years 1 to 9999.
var (
	startOfTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTime   = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// tallied reports whether each goal's progress on c is the plain sum of
// its contributions' amounts in the window, which the store keeps folded
// per bucket. Ordered steps, limits and distinct values depend on which
// contributions count and in what order, so they fold the contributions.
func tallied(c Challenge) bool {
	if c.Rule.Ordered || c.Limits != nil && (c.Limits.MinInterval != "" || c.Limits.DailyCap > 0) {
		return false
	}
	return !slices.ContainsFunc(c.Rule.Goals, func(g rule.Goal) bool { return g.Kind == rule.Distinct })
}

// tallied is state for a tallied rule, in work bounded by the window, not
// by the user's history. A period's progress is the sum of its buckets. A
// rolling window (from, at], starting after the contribution of the latest
// completion if that is later, sums the buckets it covers and corrects the
// two its edges cut with their contributions: in the last bucket those
// after at (none when events arrive in order), in the first those from the
// window's start on, at most what one user sent in that hour.
func (s *Service) tallied(ctx context.Context, c Challenge, user, period string, at time.Time, comps []Completion) (state, error) {
	st := state{}
	w := c.Rule.Window
	if w.Rolling == "" {
		for _, g := range c.Rule.Goals {
			n, err := s.Store.Tally(ctx, c.Tenant, c.ID, user, period, g.ID, startOfTime, endOfTime)
			if err != nil {
				return nil, err
			}
			st[g.ID] = n
		}
		return st, nil
	}
	from := w.RollingFrom(at)
	start, end := from.Add(time.Millisecond), at.Add(time.Millisecond) // [start, end) at the stores' precision
	var after *Contribution
	if len(comps) > 0 {
		x, err := s.completing(ctx, c, user, period, comps[len(comps)-1].EventID)
		if err != nil {
			return nil, err
		}
		if x != nil && !x.At.Before(start) {
			after, start = x, x.At
		}
	}
	if !start.Before(end) {
		return st, nil
	}
	lo, hi := TallyBucket(start), TallyBucket(at)
	if !lo.Before(hi) {
		err := s.addContributions(ctx, c, user, period, start, end, after, st, 1)
		return st, err
	}
	// Whole buckets from lo's successor through hi, less what hi holds
	// after at (nothing, when events arrive in order), plus lo's part
	// from start on.
	for _, g := range c.Rule.Goals {
		n, err := s.Store.Tally(ctx, c.Tenant, c.ID, user, period, g.ID, lo.Add(TallyWidth), hi.Add(TallyWidth))
		if err != nil {
			return nil, err
		}
		st[g.ID] = n
	}
	if err := s.addContributions(ctx, c, user, period, end, hi.Add(TallyWidth), nil, st, -1); err != nil {
		return nil, err
	}
	err := s.addContributions(ctx, c, user, period, start, lo.Add(TallyWidth), after, st, 1)
	return st, err
}

// addContributions adds sign times the amounts of the contributions with
// At in [from, to) (and later than after, if set) to st.
func (s *Service) addContributions(ctx context.Context, c Challenge, user, period string, from, to time.Time, after *Contribution, st state, sign int64) error {
	xs, err := s.Store.ContributionsBetween(ctx, c.Tenant, c.ID, user, period, from, to)
	if err != nil {
		return err
	}
	for _, x := range xs {
		if after == nil || later(x, *after) {
			st[x.Goal] = addSat(st[x.Goal], sign*x.Amount)
		}
	}
	return nil
}

// completing returns the contribution of the event behind a completion
// (to any goal: they share the event's time), nil if it has none.
func (s *Service) completing(ctx context.Context, c Challenge, user, period, eventID string) (*Contribution, error) {
	for _, g := range c.Rule.Goals {
		x, ok, err := s.Store.Contribution(ctx, c.Tenant, c.ID, user, period, g.ID, eventID)
		if err != nil || ok {
			return &x, err
		}
	}
	return nil, nil
}

// addSat adds as rule.Fold does: a sum that would overflow stays at
// math.MaxInt64.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// lastCompleting returns the contribution of the event behind the latest
// completion, if any: contributions up to it were used by that completion.
func lastCompleting(all []Contribution, comps []Completion) *Contribution {
	if len(comps) == 0 {
		return nil
	}
	last := comps[len(comps)-1].EventID
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].EventID == last {
			return &all[i]
		}
	}
	return nil
}

// later orders contributions as the store does: by At, then EventID.
func later(x, y Contribution) bool {
	return x.At.After(y.At) || x.At.Equal(y.At) && x.EventID > y.EventID
}

// report renders the state for players.
func (st state) report(c Challenge, period string) events.Progress {
	p := events.Progress{ChallengeID: c.ID, Name: c.Name, Period: period}
	for _, g := range c.Rule.Goals {
		p.Goals = append(p.Goals, events.GoalProgress{
			ID: g.ID, Label: g.Label, Met: g.Met(st[g.ID]),
			Current: display(g, min(st[g.ID], g.Threshold())), Target: display(g, g.Threshold()),
		})
	}
	p.Completed = c.Rule.Met(st)
	p.Current, p.Target = summary(p.Goals)
	return p
}

// display converts progress in a goal's unit to what players read: sums
// in the prop's own unit.
func display(g rule.Goal, v int64) float64 {
	if g.Kind == rule.Sum {
		return float64(v) / rule.Scale
	}
	return float64(v)
}

// summary is the challenge-level current/target: the goal's own for one
// goal, goals met of goals for several.
func summary(gs []events.GoalProgress) (current, target float64) {
	if len(gs) == 1 {
		return gs[0].Current, gs[0].Target
	}
	for _, g := range gs {
		if g.Met {
			current++
		}
	}
	return current, float64(len(gs))
}
