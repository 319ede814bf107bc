package challenges

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/profiles"
)

// HandleEvent counts ev towards every active challenge it matches, records
// completions and pays rewards. Each step is keyed (contribution by event,
// completion by user and period, payment by completion), so running it
// again for the same event, after a crash or concurrently, changes nothing
// and reports the same result.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, r *events.Result) ([]events.Event, error) {
	cs, err := s.active(ctx, ev.Tenant, ev.Type)
	if err != nil {
		return nil, err
	}
	var emit []events.Event
	var who *player
	mt := newMatcher(ev)
	for _, c := range cs {
		m, ok := mt.match(c)
		if !ok {
			continue
		}
		if who == nil {
			who = &player{s: s, tenant: ev.Tenant, user: ev.User}
		}
		in, err := who.takesPart(ctx, c, ev.OccurredAt)
		if err != nil {
			return nil, fmt.Errorf("challenges: event %s on %s: %w", ev.ID, c.ID, err)
		}
		if !in {
			continue
		}
		sys, err := s.count(ctx, c, ev, m, r)
		if err != nil {
			return nil, fmt.Errorf("challenges: event %s on %s: %w", ev.ID, c.ID, err)
		}
		emit = append(emit, sys...)
	}
	return emit, nil
}

// Preview reports whether ev would change nothing here: it matches no
// active challenge, or only ones the user already finished. It writes
// nothing, and fills r as HandleEvent would.
func (s *Service) Preview(ctx context.Context, ev events.Event, r *events.Result) (bool, error) {
	cs, err := s.active(ctx, ev.Tenant, ev.Type)
	if err != nil {
		return false, err
	}
	var progress []events.Progress
	mt := newMatcher(ev)
	for _, c := range cs {
		m, ok := mt.match(c)
		if !ok {
			continue
		}
		if !s.finished(ev, c, m.period.Key) {
			return false, nil
		}
		progress = append(progress, finishedProgress(c))
	}
	r.Progress = append(r.Progress, progress...)
	return true, nil
}

// match is what an event adds to a challenge: its period and what it
// adds to each goal it matches.
type match struct {
	period rule.Period
	goals  []goalHit
}

type goalHit struct {
	goal string
	rule.Contribution
}

// matcher evaluates one event against many challenges. Challenges often
// share a window (same recurrence and zone), so it places the event in a
// window's period once, not once per challenge: with a thousand candidates
// that is most of the work.
type matcher struct {
	ev      events.Event
	re      rule.Event
	periods map[windowKey]placed
}

type windowKey struct {
	recurrence rule.Recurrence
	zone, span string
	start, end int64
}

type placed struct {
	period rule.Period
	ok     bool
}

func newMatcher(ev events.Event) *matcher {
	return &matcher{ev: ev, re: rule.Event{Type: ev.Type, Props: ev.Props, OccurredAt: ev.OccurredAt}, periods: map[windowKey]placed{}}
}

// match reports whether the event counts towards c: a goal matches it and
// the window takes it (by occurred_at; late within the grace, see
// rule.Window).
func (m *matcher) match(c Challenge) (match, bool) {
	var out match
	for _, g := range c.Rule.Goals {
		if cb, ok := g.Match(m.re); ok {
			out.goals = append(out.goals, goalHit{g.ID, cb})
		}
	}
	if len(out.goals) == 0 {
		return match{}, false
	}
	w := c.Rule.Window
	k := windowKey{recurrence: w.Recurrence, zone: w.TimeZone, span: w.Rolling, start: millis(w.StartsAt), end: millis(w.EndsAt)}
	p, seen := m.periods[k]
	if !seen {
		received := m.ev.ReceivedAt
		if received.IsZero() {
			received = m.ev.OccurredAt
		}
		p.period, p.ok = w.Counts(m.ev.OccurredAt, received)
		m.periods[k] = p
	}
	out.period = p.period
	return out, p.ok
}

func millis(t *time.Time) int64 {
	if t == nil {
		return -1 << 63
	}
	return t.UnixMilli()
}

// player answers eligibility and enrolment for one user, reading their
// attributes at most once per event.
type player struct {
	s            *Service
	tenant, user string
	attrs        *profiles.Attributes
}

// takesPart reports whether the user's event at `at` counts for c: they are
// eligible, and for an opt-in challenge they had joined by then.
func (p *player) takesPart(ctx context.Context, c Challenge, at time.Time) (bool, error) {
	if c.Eligibility != nil && (len(c.Eligibility.Tiers) > 0 || len(c.Eligibility.Segments) > 0) {
		if p.attrs == nil {
			a, _, err := p.s.attributes(ctx, p.tenant, p.user)
			if err != nil {
				return false, err
			}
			p.attrs = &a
		}
		if !eligible(*c.Eligibility, *p.attrs) {
			return false, nil
		}
	}
	if c.Enrolment != OptIn {
		return true, nil
	}
	e, ok, err := p.s.Store.Enrolled(ctx, p.tenant, c.ID, p.user)
	return ok && !at.Before(e.JoinedAt), err
}

func (s *Service) attributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error) {
	if s.Attributes == nil {
		return profiles.Attributes{}, false, nil
	}
	a, ok, err := s.Attributes.GetAttributes(ctx, tenant, user)
	if err != nil {
		return profiles.Attributes{}, false, fmt.Errorf("challenges: attributes of %s: %w", user, err)
	}
	return a, ok, nil
}

// eligible reports whether a user with attributes a may take part: in one
// of the tiers, if any are listed, and in one of the segments, if any are.
func eligible(e Eligibility, a profiles.Attributes) bool {
	if len(e.Tiers) > 0 && !slices.Contains(e.Tiers, a.Tier) {
		return false
	}
	if len(e.Segments) > 0 && !slices.ContainsFunc(e.Segments, func(s string) bool { return slices.Contains(a.Segments, s) }) {
		return false
	}
	return true
}

// capPeriod keys the shortcut for a user who reached c's cap. The cap
// itself is part of the key: raising max_completions must reopen the
// challenge for those who reached the old one, on every node, as soon as
// the node sees the new definition.
const capPeriod = "#cap"

func capKey(ev events.Event, c Challenge) completionKey {
	return completionKey{ev.Tenant, c.ID, ev.User, capPeriod, c.MaxCompletions}
}

// finished reports whether the user can no longer progress on c in period
// (completed it there, or reached the cap), with every effect written by
// an event other than ev.
func (s *Service) finished(ev events.Event, c Challenge, period string) bool {
	if c.Rule.Window.Rolling == "" && s.doneBefore(completionKey{ev.Tenant, c.ID, ev.User, period, 0}, ev.ID) {
		return true
	}
	return s.doneBefore(capKey(ev, c), ev.ID)
}

func finishedProgress(c Challenge) events.Progress {
	p := events.Progress{ChallengeID: c.ID, Name: c.Name, Completed: true}
	for _, g := range c.Rule.Goals {
		t := display(g, g.Threshold())
		p.Goals = append(p.Goals, events.GoalProgress{ID: g.ID, Label: g.Label, Current: t, Target: t, Met: true})
	}
	p.Current, p.Target = summary(p.Goals)
	return p
}

// count records what ev adds to c for its user and completes c when every
// goal is met.
func (s *Service) count(ctx context.Context, c Challenge, ev events.Event, m match, r *events.Result) ([]events.Event, error) {
	base := m.period.Key
	if s.finished(ev, c, base) {
		r.Progress = append(r.Progress, finishedProgress(c))
		return nil, nil
	}
	inserted := false
	for _, h := range m.goals {
		ins, err := s.Store.AddContribution(ctx, Contribution{
			Tenant: ev.Tenant, ChallengeID: c.ID, User: ev.User, Period: base, Goal: h.goal,
			EventID: ev.ID, Amount: h.Amount, Key: h.Key, At: ev.OccurredAt,
		})
		if err != nil {
			return nil, err
		}
		inserted = inserted || ins
	}
	// A rolling window's progress starts after the latest completion, so
	// it needs the completions first. A calendar period's progress never
	// falls (what counts is frozen once published, and a period's records
	// are kept while it counts), so there a completion, and a replay of
	// the event that made it, can only exist once the goals are met: most
	// events then skip reading the completions.
	rolling := c.Rule.Window.Rolling != ""
	var comps []Completion
	if rolling {
		var err error
		if comps, err = s.Store.ChallengeCompletions(ctx, ev.Tenant, c.ID, ev.User); err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(comps, func(x Completion) bool { return x.EventID == ev.ID }); i >= 0 {
			return s.finishReplay(ctx, c, comps, i, ev, r)
		}
	}
	st, err := s.state(ctx, c, ev.User, base, ev.OccurredAt, comps)
	if err != nil {
		return nil, err
	}
	p := st.report(c, base)
	if !rolling && p.Completed {
		if comps, err = s.Store.ChallengeCompletions(ctx, ev.Tenant, c.ID, ev.User); err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(comps, func(x Completion) bool { return x.EventID == ev.ID }); i >= 0 {
			return s.finishReplay(ctx, c, comps, i, ev, r)
		}
	}
	r.Progress = append(r.Progress, p)
	if inserted {
		s.push(ctx, ev.Tenant, ev.User, "progress", p)
	}
	if !p.Completed {
		return nil, nil
	}
	slot, ok := completionSlot(c, base, comps)
	if !ok {
		return nil, nil
	}
	done, fresh, err := s.Store.InsertCompletion(ctx, Completion{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: ev.Tenant, ChallengeID: c.ID, User: ev.User,
		Period: slot, EventID: ev.ID, CompletedAt: s.Now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		return nil, err
	}
	if done.EventID != ev.ID {
		// Completed by another event, whose own processing (or the
		// sweeper's replay of it) pays the reward.
		return nil, nil
	}
	return s.finish(ctx, c, done, append(comps, done), ev, r, fresh)
}

// finishReplay handles a replay of the event that made comps[i]: it
// finishes whatever a crash left of that completion.
func (s *Service) finishReplay(ctx context.Context, c Challenge, comps []Completion, i int, ev events.Event, r *events.Result) ([]events.Event, error) {
	r.Progress = append(r.Progress, finishedProgress(c))
	return s.finish(ctx, c, comps[i], comps, ev, r, false)
}

// completionSlot names the completion this progress would make: the
// period itself (once per period), or for a rolling window "#n", the n-th
// completion. ok is false when the user completed the period already or
// reached the cap.
//
// The cap is checked against completions read before the insert; only a
// late event completing an earlier period at the very moment another
// completes the current one could pass it, and only by one.
func completionSlot(c Challenge, period string, comps []Completion) (string, bool) {
	n := int64(len(comps))
	if c.MaxCompletions > 0 && n >= c.MaxCompletions {
		return "", false
	}
	if c.Rule.Window.Rolling != "" {
		return fmt.Sprintf("#%d", n+1), true
	}
	if slices.ContainsFunc(comps, func(x Completion) bool { return x.Period == period }) {
		return "", false
	}
	return period, true
}

// finish runs a completion's effects: the push and system event, and for
// an automatic claim the reward. All are keyed by the completion, so it is
// safe to run again after a crash.
func (s *Service) finish(ctx context.Context, c Challenge, done Completion, comps []Completion, ev events.Event, r *events.Result, fresh bool) ([]events.Event, error) {
	r.Completions = append(r.Completions, events.Completion{ChallengeID: c.ID, Name: c.Name, RewardPoints: c.Reward.Points})
	if fresh {
		s.push(ctx, ev.Tenant, ev.User, "challenge.completed", map[string]any{
			"challenge_id": c.ID, "name": c.Name, "period": done.Period, "reward": c.Reward,
			"claim": c.Claim, "completed_at": done.CompletedAt,
		})
	}
	emit := []events.Event{{
		Tenant: ev.Tenant, User: ev.User, Type: "challenge.completed",
		Props:          map[string]any{"challenge_id": c.ID},
		OccurredAt:     done.CompletedAt,
		IdempotencyKey: "challenge.completed:" + done.ID,
	}}
	if c.Claim == AutoClaim {
		sys, err := s.reward(ctx, c, done, r)
		if err != nil {
			return nil, err
		}
		emit = append(emit, sys...)
	}
	s.markDone(completionKey{ev.Tenant, c.ID, ev.User, done.Period, 0}, done.EventID)
	if c.MaxCompletions > 0 && int64(len(comps)) >= c.MaxCompletions {
		s.markDone(capKey(ev, c), done.EventID)
	}
	return emit, nil
}

// reward pays a completion's reward: points, a badge and content, each
// keyed by the completion so it is paid once however often this runs. r,
// when not nil, reports the points to the event's sender.
func (s *Service) reward(ctx context.Context, c Challenge, done Completion, r *events.Result) ([]events.Event, error) {
	var emit []events.Event
	if pts := c.Reward.Points; pts > 0 {
		key := "challenge:" + c.ID + ":" + done.ID
		reason := "challenge " + c.Name
		by, balance, err := s.Payer.PayOnce(ctx, done.Tenant, done.User, pts, key, reason, done.EventID)
		if err != nil {
			return nil, err
		}
		if r != nil && by == done.EventID {
			r.Points = append(r.Points, events.Points{Amount: pts, Reason: reason, Balance: balance})
		}
		emit = append(emit, events.Event{
			Tenant: done.Tenant, User: done.User, Type: "points.earned",
			Props:          map[string]any{"amount": float64(pts), "key": key},
			OccurredAt:     done.CompletedAt,
			IdempotencyKey: "points.earned:" + key,
		})
	}
	if c.Reward.Badge != "" && s.Awarder != nil {
		sys, err := s.Awarder.Award(ctx, done.Tenant, done.User, c.Reward.Badge, "challenge:"+c.ID, done.EventID)
		if e, ok := errs.As(err); ok && (e.Kind == errs.NotFound || e.Kind == errs.Conflict) {
			// The badge was deleted or unpublished after the challenge
			// named it: there is nothing to award, and failing would
			// only make the sweeper retry this event forever.
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("badge %s: %w", c.Reward.Badge, err)
		}
		emit = append(emit, sys...)
	}
	if c.Reward.Unlock != "" {
		u := Unlock{Tenant: done.Tenant, User: done.User, Content: c.Reward.Unlock, Source: "challenge:" + c.ID, UnlockedAt: s.Now().UTC().Truncate(time.Millisecond)}
		fresh, err := s.Store.AddUnlock(ctx, u)
		if err != nil {
			return nil, err
		}
		if fresh {
			s.push(ctx, done.Tenant, done.User, "content.unlocked", u)
		}
	}
	return emit, nil
}

// push is best effort: the durable state is already written and the
// player's views always read it, so a failed push must not fail the event.
func (s *Service) push(ctx context.Context, tenant, user, typ string, data any) {
	if s.Notifier != nil {
		_ = s.Notifier.PublishUser(ctx, tenant, user, typ, data)
	}
}

// Admits reports whether a user with attributes a may take part, for
// other domains (quizzes) that share the challenges' eligibility shape.
func (e Eligibility) Admits(a profiles.Attributes) bool { return eligible(e, a) }
