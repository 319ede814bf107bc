package challenges

import (
	"context"
	"fmt"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// PlayerChallenge is a challenge as one player sees it.
type PlayerChallenge struct {
	Challenge
	State string `json:"state" enum:"upcoming,active,completed,ended,not_joined" doc:"upcoming: not started; active: counting; completed: done for this period (or for good); ended: over without completion; not_joined: opt-in and not joined yet."`
	// Period is the current recurring period, e.g. 2026-11-23.
	Period string `json:"period,omitempty"`
	// Current and Target are the single goal's progress in its unit; with
	// several goals, goals met of goals.
	Current     float64               `json:"current"`
	Target      float64               `json:"target"`
	Goals       []events.GoalProgress `json:"goals" doc:"Progress per goal: current of target, in the goal's unit (sums in the prop's unit)."`
	Completions int64                 `json:"completions" doc:"Times this player completed it, across periods."`
	Claimable   int64                 `json:"claimable" doc:"Completions whose reward awaits POST /challenges/{id}/claim."`
	CompletedAt *time.Time            `json:"completed_at,omitempty" doc:"The latest completion."`
	// ResetsAt is when the current period (or the challenge) ends; null
	// when it never does.
	ResetsAt *time.Time `json:"resets_at,omitempty"`
	// SecondsLeft counts down to ResetsAt; null when it never closes.
	SecondsLeft *int64 `json:"seconds_left,omitempty"`
}

// ForPlayer lists the tenant's published challenges the user is eligible
// for, with the user's progress in the current period of each, plus
// archived ones the user completed.
func (s *Service) ForPlayer(ctx context.Context, tenant, user string) ([]PlayerChallenge, error) {
	comps, err := s.Store.UserCompletions(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("challenges: completions of %s: %w", user, err)
	}
	byChallenge := map[string][]Completion{}
	for i := len(comps) - 1; i >= 0; i-- { // oldest first
		byChallenge[comps[i].ChallengeID] = append(byChallenge[comps[i].ChallengeID], comps[i])
	}
	who := &player{s: s, tenant: tenant, user: user}
	now := s.Now().UTC()
	out := []PlayerChallenge{}
	after := ""
	for {
		page, err := s.Store.ListChallenges(ctx, tenant, "", after, 500)
		if err != nil {
			return nil, fmt.Errorf("challenges: list for %s: %w", user, err)
		}
		for _, c := range page {
			pc, ok, err := s.view(ctx, c, who, byChallenge[c.ID], now)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, pc)
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// view builds one challenge's player view; ok is false when the player
// should not see it (a draft, an archived one they never completed, or
// one they are not eligible for).
func (s *Service) view(ctx context.Context, c Challenge, who *player, comps []Completion, now time.Time) (PlayerChallenge, bool, error) {
	if c.Status == Draft || c.Status == Archived && len(comps) == 0 {
		return PlayerChallenge{}, false, nil
	}
	if c.Eligibility != nil && (len(c.Eligibility.Tiers) > 0 || len(c.Eligibility.Segments) > 0) {
		if ok, err := who.eligibleNow(ctx, c); err != nil || !ok {
			return PlayerChallenge{}, false, err
		}
	}
	pc := PlayerChallenge{Challenge: c, State: "active", Completions: int64(len(comps)), ResetsAt: c.Rule.Window.ResetsAt(now)}
	for _, x := range comps {
		if c.Claim == ManualClaim && x.ClaimedAt == nil {
			pc.Claimable++
		}
		pc.CompletedAt = &x.CompletedAt
	}
	w := c.Rule.Window
	period, inWindow := w.PeriodAt(now)
	st, err := s.state(ctx, c, who.user, period.Key, now, comps)
	if err != nil {
		return PlayerChallenge{}, false, fmt.Errorf("challenges: progress of %s on %s: %w", who.user, c.ID, err)
	}
	p := st.report(c, period.Key)
	_, slotFree := completionSlot(c, period.Key, comps)
	if !slotFree && len(comps) > 0 {
		p = finishedProgress(c)
	}
	pc.Period, pc.Current, pc.Target, pc.Goals = period.Key, p.Current, p.Target, p.Goals
	switch {
	case !slotFree && len(comps) > 0:
		pc.State = "completed"
	case c.Status == Archived:
		pc.State = "ended"
	case w.StartsAt != nil && now.Before(*w.StartsAt):
		pc.State = "upcoming"
	case !inWindow:
		pc.State = "ended"
	case c.Enrolment == OptIn:
		if _, joined, err := s.Store.Enrolled(ctx, c.Tenant, c.ID, who.user); err != nil {
			return PlayerChallenge{}, false, err
		} else if !joined {
			pc.State = "not_joined"
		}
	}
	if pc.ResetsAt != nil && pc.State != "ended" {
		left := int64(pc.ResetsAt.Sub(now).Seconds())
		pc.SecondsLeft = &left
	}
	return pc, true, nil
}

// eligibleNow reports whether the player is eligible for c today.
func (p *player) eligibleNow(ctx context.Context, c Challenge) (bool, error) {
	cc := c
	cc.Enrolment = Auto
	return p.takesPart(ctx, cc, time.Time{})
}

// Join enrols the user in an opt-in challenge; joining again changes
// nothing. Only events that occur after joining count.
func (s *Service) Join(ctx context.Context, tenant, id, user string) (Membership, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Membership{}, err
	}
	if c.Status != Published {
		return Membership{}, notFound(id)
	}
	if c.Enrolment != OptIn {
		return Membership{}, errs.New(errs.Conflict, "not-opt-in", "challenge %s enrols every eligible player automatically", id)
	}
	who := &player{s: s, tenant: tenant, user: user}
	if ok, err := who.eligibleNow(ctx, c); err != nil {
		return Membership{}, err
	} else if !ok {
		return Membership{}, errs.New(errs.Forbidden, "not-eligible", "this challenge is for other tiers or segments")
	}
	if end := c.Rule.Window.EndsAt; end != nil && !s.Now().Before(*end) {
		return Membership{}, errs.New(errs.Conflict, "challenge-ended", "challenge %s has ended", id)
	}
	e, _, err := s.Store.Join(ctx, Membership{Tenant: tenant, ChallengeID: c.ID, User: user, JoinedAt: s.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		return Membership{}, fmt.Errorf("challenges: join %s: %w", id, err)
	}
	return e, nil
}

// Claimed is what a claim paid.
type Claimed struct {
	Completions []Completion `json:"completions" doc:"Every claimed completion of this challenge by the player."`
	Reward      Reward       `json:"reward" doc:"What each completion pays."`
}

// Claim pays the rewards of the user's completions of a manual-claim
// challenge. It is idempotent: each completion is marked claimed once and
// its reward is keyed by the completion, so a retry (or a concurrent
// claim) pays nothing more and answers the same.
func (s *Service) Claim(ctx context.Context, tenant, id, user string) (Claimed, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Claimed{}, err
	}
	if c.Status == Draft {
		return Claimed{}, notFound(id) // a draft is invisible to players: answer as for a missing id
	}
	if c.Claim != ManualClaim {
		return Claimed{}, errs.New(errs.Conflict, "auto-claim", "challenge %s pays its reward on completion", id)
	}
	comps, err := s.Store.ChallengeCompletions(ctx, tenant, c.ID, user)
	if err != nil {
		return Claimed{}, fmt.Errorf("challenges: claim %s: %w", id, err)
	}
	if len(comps) == 0 {
		return Claimed{}, errs.New(errs.Conflict, "nothing-to-claim", "complete challenge %s first", id)
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	for i, x := range comps {
		if x.ClaimedAt == nil {
			if _, err := s.Store.ClaimCompletion(ctx, tenant, x.ID, now); err != nil {
				return Claimed{}, fmt.Errorf("challenges: claim %s: %w", id, err)
			}
			comps[i].ClaimedAt = &now
		}
		// Paying again is a no-op; doing it for every claimed completion
		// finishes a claim that a crash interrupted.
		emit, err := s.reward(ctx, c, x, nil)
		if err != nil {
			return Claimed{}, fmt.Errorf("challenges: claim %s: %w", id, err)
		}
		if err := s.emit(ctx, emit); err != nil {
			return Claimed{}, err
		}
	}
	return Claimed{Completions: comps, Reward: c.Reward}, nil
}

func (s *Service) emit(ctx context.Context, evs []events.Event) error {
	if s.Emitter == nil {
		return nil
	}
	for _, ev := range evs {
		if err := s.Emitter.Emit(ctx, ev); err != nil {
			return fmt.Errorf("challenges: emit %s: %w", ev.Type, err)
		}
	}
	return nil
}

// Unlocks lists the content the user unlocked, newest first.
func (s *Service) Unlocks(ctx context.Context, tenant, user string) ([]Unlock, error) {
	us, err := s.Store.UserUnlocks(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("challenges: unlocks of %s: %w", user, err)
	}
	return us, nil
}

// ManagerStats is a challenge's numbers with its completion rate.
type ManagerStats struct {
	Stats
	CompletionRate float64 `json:"completion_rate" doc:"Completers per participant, 0..1."`
}

// Stats returns a challenge's participation figures.
func (s *Service) Stats(ctx context.Context, tenant, id string) (ManagerStats, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return ManagerStats{}, err
	}
	st, err := s.Store.ChallengeStats(ctx, tenant, c.ID)
	if err != nil {
		return ManagerStats{}, fmt.Errorf("challenges: stats of %s: %w", id, err)
	}
	out := ManagerStats{Stats: st}
	if st.Participants > 0 {
		out.CompletionRate = float64(st.Completers) / float64(st.Participants)
	}
	return out, nil
}
