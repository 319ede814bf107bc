package challenges

import (
	"context"
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
func (s *Service) state(ctx context.Context, c Challenge, user, period string, at time.Time, comps []Completion) (state, error) {
	all, err := s.Store.Contributions(ctx, c.Tenant, c.ID, user, period)
	if err != nil {
		return nil, err
	}
	w := c.Rule.Window
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
