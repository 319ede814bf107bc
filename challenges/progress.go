package challenges

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
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
	for _, c := range cs {
		if !c.counts(ev) {
			continue
		}
		sys, err := s.count(ctx, c, ev, r)
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
	for _, c := range cs {
		if !c.counts(ev) {
			continue
		}
		if !s.doneBefore(completionKey{ev.Tenant, c.ID, ev.User, ""}, ev.ID) {
			return false, nil
		}
		progress = append(progress, finished(c))
	}
	r.Progress = append(r.Progress, progress...)
	return true, nil
}

func finished(c Challenge) events.Progress {
	return events.Progress{ChallengeID: c.ID, Name: c.Name, Current: c.Target, Target: c.Target, Completed: true}
}

func (s *Service) count(ctx context.Context, c Challenge, ev events.Event, r *events.Result) ([]events.Event, error) {
	const period = "" // challenges without recurrence have one period
	key := completionKey{ev.Tenant, c.ID, ev.User, period}
	if s.doneBefore(key, ev.ID) {
		r.Progress = append(r.Progress, finished(c))
		return nil, nil
	}
	inserted, err := s.store.AddContribution(ctx, Contribution{
		Tenant: ev.Tenant, ChallengeID: c.ID, User: ev.User, Period: period,
		EventID: ev.ID, Value: 1, At: ev.OccurredAt,
	})
	if err != nil {
		return nil, err
	}
	n, err := s.store.CountContributions(ctx, ev.Tenant, c.ID, ev.User, period, c.Target)
	if err != nil {
		return nil, err
	}
	p := events.Progress{ChallengeID: c.ID, Name: c.Name, Current: n, Target: c.Target, Completed: n >= c.Target}
	r.Progress = append(r.Progress, p)
	if inserted {
		s.push(ctx, ev, "progress", p)
	}
	if n < c.Target {
		return nil, nil
	}
	done, fresh, err := s.store.InsertCompletion(ctx, Completion{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: ev.Tenant, ChallengeID: c.ID, User: ev.User,
		Period: period, EventID: ev.ID, CompletedAt: s.now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		return nil, err
	}
	if done.EventID != ev.ID {
		// Completed earlier by another event, whose own processing (or
		// the sweeper's replay of it) pays the reward.
		s.markDone(key, done.EventID)
		return nil, nil
	}
	r.Completions = append(r.Completions, events.Completion{ChallengeID: c.ID, Name: c.Name, RewardPoints: c.RewardPoints})
	if c.RewardPoints > 0 {
		by, balance, err := s.payer.PayOnce(ctx, ev.Tenant, ev.User, c.RewardPoints,
			"challenge:"+c.ID+":"+done.ID, "challenge "+c.Name, ev.ID)
		if err != nil {
			return nil, err
		}
		if by == ev.ID {
			r.Points = append(r.Points, events.Points{Amount: c.RewardPoints, Reason: "challenge " + c.Name, Balance: balance})
		}
	}
	if fresh {
		s.push(ctx, ev, "challenge.completed", map[string]any{
			"challenge_id": c.ID, "name": c.Name, "reward_points": c.RewardPoints, "completed_at": done.CompletedAt,
		})
	}
	s.markDone(key, done.EventID)
	return []events.Event{{
		Tenant: ev.Tenant, User: ev.User, Type: "challenge.completed",
		Props:          map[string]any{"challenge_id": c.ID},
		OccurredAt:     done.CompletedAt,
		IdempotencyKey: "challenge.completed:" + done.ID,
	}}, nil
}

// push is best effort: the durable state is already written and the
// player's views always read it, so a failed push must not fail the event.
func (s *Service) push(ctx context.Context, ev events.Event, typ string, data any) {
	if s.notify != nil {
		_ = s.notify.PublishUser(ctx, ev.Tenant, ev.User, typ, data)
	}
}

// PlayerChallenge is a challenge as one player sees it.
type PlayerChallenge struct {
	Challenge
	State       string     `json:"state" enum:"active,upcoming,completed,ended" doc:"upcoming: not started; active: counting; completed: done; ended: over without completion."`
	Current     int64      `json:"current"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// ResetsAt is when the window closes; null when it never does.
	ResetsAt *time.Time `json:"resets_at,omitempty"`
	// SecondsLeft counts down to ResetsAt; null when it never closes.
	SecondsLeft *int64 `json:"seconds_left,omitempty"`
}

// ForPlayer lists the tenant's published challenges with the user's
// progress, plus archived ones the user completed.
func (s *Service) ForPlayer(ctx context.Context, tenant, user string) ([]PlayerChallenge, error) {
	rows, err := s.store.UserProgress(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("challenges: progress of %s: %w", user, err)
	}
	comps, err := s.store.UserCompletions(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("challenges: completions of %s: %w", user, err)
	}
	count := map[string]int64{}
	for _, r := range rows {
		count[r.ChallengeID] += r.Count
	}
	doneAt := map[string]time.Time{}
	for _, c := range comps {
		doneAt[c.ChallengeID] = c.CompletedAt
	}
	now := s.now().UTC()
	out := []PlayerChallenge{}
	after := ""
	for {
		page, err := s.store.ListChallenges(ctx, tenant, "", after, 500)
		if err != nil {
			return nil, fmt.Errorf("challenges: list for %s: %w", user, err)
		}
		for _, c := range page {
			at, completed := doneAt[c.ID]
			if c.Status == Draft || (c.Status == Archived && !completed) {
				continue
			}
			pc := PlayerChallenge{Challenge: c, Current: min(count[c.ID], c.Target), State: "active", ResetsAt: c.EndsAt}
			switch {
			case completed:
				pc.State, pc.CompletedAt = "completed", &at
			case c.StartsAt != nil && now.Before(*c.StartsAt):
				pc.State = "upcoming"
			case c.EndsAt != nil && !now.Before(*c.EndsAt):
				pc.State = "ended"
			}
			if c.EndsAt != nil && pc.State != "completed" && pc.State != "ended" {
				left := int64(c.EndsAt.Sub(now).Seconds())
				pc.SecondsLeft = &left
			}
			out = append(out, pc)
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}
