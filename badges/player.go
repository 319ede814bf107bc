package badges

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
)

// PlayerBadge is a badge as one player sees it (GET /me/badges).
type PlayerBadge struct {
	Badge
	Earned bool          `json:"earned" doc:"The player holds an award of it that has not expired."`
	Awards []PlayerAward `json:"awards" doc:"The player's awards of it, newest first; expired ones stay, flagged."`
	// NextTier and Progress say what is left to earn in the current
	// period; both are absent when nothing is.
	NextTier string                `json:"next_tier,omitempty" doc:"Tiered badges: the lowest tier not yet earned in the current period."`
	Progress []events.GoalProgress `json:"progress,omitempty" doc:"Towards the next tier (or the badge) in the current period, per goal, in the goal's unit (sums in the prop's unit)."`
	ResetsAt *time.Time            `json:"resets_at,omitempty" doc:"When the current period ends and progress starts afresh, or the window closes; null when never."`
	// Remaining is set for limited editions.
	Remaining *int64 `json:"remaining,omitempty" doc:"Limited editions: how many of the first tier are left."`
}

// PlayerAward is an award as its holder sees it.
type PlayerAward struct {
	Award
	Expired bool `json:"expired,omitempty" doc:"Past expires_at: no longer held, nor shown on the showcase."`
}

// ForPlayer lists what GET /me/badges shows: every published badge the
// player may see, with their awards of it and their progress towards
// what is left, plus archived badges they hold. Hidden badges appear only
// once the player has held one (see visible).
func (s *Service) ForPlayer(ctx context.Context, tenant, user string) ([]PlayerBadge, error) {
	mine, err := s.awardsByBadge(ctx, tenant, user)
	if err != nil {
		return nil, err
	}
	bs, err := s.all(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	out := []PlayerBadge{}
	for _, b := range bs {
		if !visible(b, len(mine[b.ID]) > 0) {
			continue
		}
		pb, err := s.view(ctx, tenant, b, user, mine[b.ID], now)
		if err != nil {
			return nil, fmt.Errorf("badges: %s for %s: %w", b.ID, user, err)
		}
		out = append(out, pb)
	}
	return out, nil
}

// visible reports whether a player's list shows b: a published badge
// unless it is a secret they never held, and an archived one only if they
// held it. A secret stays visible after its award expires, since the
// player knows it by then.
func visible(b Badge, held bool) bool {
	switch b.Status {
	case Published:
		return !b.Hidden || held
	case Archived:
		return held
	}
	return false
}

// view is b as the player sees it, given their awards of it, newest first.
func (s *Service) view(ctx context.Context, tenant string, b Badge, user string, as []Award, now time.Time) (PlayerBadge, error) {
	pb := PlayerBadge{Badge: b, Awards: make([]PlayerAward, len(as))}
	for i, a := range as {
		pb.Awards[i] = PlayerAward{Award: a, Expired: expired(a, now)}
		pb.Earned = pb.Earned || !pb.Awards[i].Expired
	}
	if b.Status != Published {
		return pb, nil
	}
	if b.Limit > 0 {
		n, err := s.store.CountAwards(ctx, tenant, b.ID, b.levels()[0])
		if err != nil {
			return PlayerBadge{}, err
		}
		left := max(b.Limit-n, 0)
		pb.Remaining = &left
	}
	w := b.Rule.Window
	pb.ResetsAt = w.ResetsAt(now)
	p, open := w.PeriodAt(now)
	next := b.next(as, p.Key)
	if !open || next < 0 {
		return pb, nil
	}
	cs, err := s.store.BadgeContributions(ctx, tenant, b.ID, user, p.Key)
	if err != nil {
		return PlayerBadge{}, err
	}
	pb.NextTier = b.levels()[next]
	pb.Progress = b.report(b.Rule.Progress(counted(cs, w, now)), next)
	return pb, nil
}

// next returns the index of the first level of b not awarded in period
// (expired awards count: their slot is taken), or -1 when all are.
func (b Badge) next(as []Award, period string) int {
	for i, tier := range b.levels() {
		if !slices.ContainsFunc(as, func(a Award) bool { return a.Tier == tier && a.Period == period }) {
			return i
		}
	}
	return -1
}

// report renders progress towards level i of b for players: each goal's
// current (capped at its target) and target, in the goal's unit.
func (b Badge) report(progress map[string]int64, i int) []events.GoalProgress {
	out := make([]events.GoalProgress, 0, len(b.Rule.Goals))
	for _, g := range b.Rule.Goals {
		if len(b.Tiers) > 0 {
			g = b.tierGoal(i)
		}
		target := g.Threshold()
		out = append(out, events.GoalProgress{
			ID: g.ID, Label: g.Label, Met: g.Met(progress[g.ID]),
			Current: display(g, min(progress[g.ID], target)), Target: display(g, target),
		})
	}
	return out
}

// display converts progress in a goal's unit to what players read: sums
// in the prop's own unit.
func display(g rule.Goal, v int64) float64 {
	if g.Kind == rule.Sum {
		return float64(v) / rule.Scale
	}
	return float64(v)
}

func expired(a Award, now time.Time) bool {
	return a.ExpiresAt != nil && !now.Before(*a.ExpiresAt)
}

// ShowcaseBadge is one badge on a user's public showcase.
type ShowcaseBadge struct {
	BadgeID     string     `json:"badge_id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	ImageURL    string     `json:"image_url,omitempty"`
	Tier        string     `json:"tier,omitempty" doc:"Tiered badges: the highest tier held."`
	Edition     int64      `json:"edition,omitempty" doc:"Limited editions: the number of the award shown."`
	AwardedAt   time.Time  `json:"awarded_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Periods     int        `json:"periods" doc:"In how many periods the user holds it: more than 1 for a recurring badge earned again."`
}

// Showcase lists what GET /users/{id}/badges shows anyone in the tenant:
// the badges the user holds now (unexpired awards), one entry per badge
// at its highest tier, newest first. It shows nothing private: no
// progress, and no badge the user does not hold.
func (s *Service) Showcase(ctx context.Context, tenant, user string) ([]ShowcaseBadge, error) {
	mine, err := s.awardsByBadge(ctx, tenant, user)
	if err != nil {
		return nil, err
	}
	out := []ShowcaseBadge{}
	if len(mine) == 0 {
		return out, nil
	}
	bs, err := s.all(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	for _, b := range bs {
		if e, ok := showcased(b, mine[b.ID], now); ok {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(x, y ShowcaseBadge) int { return cmp.Compare(y.AwardedAt.UnixMilli(), x.AwardedAt.UnixMilli()) })
	return out, nil
}

// showcased is b's showcase entry for a user with the awards as; ok is
// false when none of them is held now.
func showcased(b Badge, as []Award, now time.Time) (ShowcaseBadge, bool) {
	rank := func(tier string) int { return slices.Index(b.levels(), tier) }
	var best *Award
	periods := map[string]bool{}
	for i, a := range as {
		if expired(a, now) {
			continue
		}
		periods[a.Period] = true
		if best == nil || rank(a.Tier) > rank(best.Tier) {
			best = &as[i] // as is newest first: the newest of the highest tier
		}
	}
	if best == nil {
		return ShowcaseBadge{}, false
	}
	return ShowcaseBadge{
		BadgeID: b.ID, Name: b.Name, Description: b.Description, ImageURL: b.ImageURL,
		Tier: best.Tier, Edition: best.Edition, AwardedAt: best.AwardedAt, ExpiresAt: best.ExpiresAt,
		Periods: len(periods),
	}, true
}

// awardsByBadge returns the user's awards grouped by badge, newest first.
func (s *Service) awardsByBadge(ctx context.Context, tenant, user string) (map[string][]Award, error) {
	as, err := s.store.UserAwards(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("badges: awards of %s: %w", user, err)
	}
	out := map[string][]Award{}
	for _, a := range as {
		out[a.BadgeID] = append(out[a.BadgeID], a)
	}
	return out, nil
}

// seenBy reports whether a player may read b by id: any badge but a
// draft, or a secret they never held. (An archived badge stays readable:
// it is on its holders' showcases.)
func (s *Service) seenBy(ctx context.Context, tenant string, b Badge, user string) (bool, error) {
	if b.Status == Draft {
		return false, nil
	}
	if !b.Hidden {
		return true, nil
	}
	mine, err := s.awardsByBadge(ctx, tenant, user)
	return len(mine[b.ID]) > 0, err
}
