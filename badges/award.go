package badges

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// UnlockedType is the system event, and the push, of a new award.
const UnlockedType = "badge.unlocked"

// HandleEvent counts ev towards every published badge whose rule it
// matches and awards each tier it reaches. Each write is keyed
// (contributions by event, awards by user, tier and period, editions by
// number), so running it again for the same event, after a crash or
// concurrently, awards nothing twice. It pushes badge.unlocked for awards
// it inserts, and returns a badge.unlocked system event for every award
// ev made, also on a replay: the first run may have crashed before its
// system events were stored, and their idempotency keys make a repeat
// harmless.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	hits, err := s.hits(ctx, ev)
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	held, err := s.holdings(ctx, ev.Tenant, ev.User, hits...)
	if err != nil {
		return nil, err
	}
	var emit []events.Event
	for _, h := range hits {
		sys, err := s.count(ctx, h, ev, held)
		if err != nil {
			return nil, fmt.Errorf("badges: event %s on %s: %w", ev.ID, h.badge.ID, err)
		}
		emit = append(emit, sys...)
	}
	return emit, nil
}

// Preview reports whether ev would change nothing here: it counts for no
// published badge, or only for badges whose every tier the user holds in
// the event's period. It writes nothing and reports nothing in r.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	hits, err := s.hits(ctx, ev)
	if err != nil || len(hits) == 0 {
		return err == nil, err
	}
	held, err := s.holdings(ctx, ev.Tenant, ev.User, hits...)
	if err != nil {
		return false, err
	}
	for _, h := range hits {
		if !held.complete(h.badge, h.period) {
			return false, nil
		}
	}
	return true, nil
}

// Award awards a badge directly, as a challenge's reward: its first tier
// (or the plain badge) in period "", with the same guarantees as awards
// earned on the event stream. It returns the badge.unlocked system event
// when eventID made the award, also on a retry. A sold-out limited edition
// awards nothing and is not an error; an unknown badge is NotFound and an
// unpublished one a Conflict.
func (s *Service) Award(ctx context.Context, tenant, user, badgeID, source, eventID string) ([]events.Event, error) {
	b, err := s.Get(ctx, tenant, badgeID)
	if err != nil {
		return nil, err
	}
	if b.Status != Published {
		return nil, errs.New(errs.Conflict, "badge-not-published", "badge %s is %s: only published badges are awarded", badgeID, b.Status)
	}
	held, err := s.holdings(ctx, tenant, user, hit{badge: b})
	if err != nil {
		return nil, err
	}
	tier := b.levels()[0]
	a := Award{Tenant: tenant, BadgeID: b.ID, User: user, Tier: tier, EventID: eventID, Source: source}
	if _, err := s.take(ctx, b, a, held); err != nil {
		return nil, err
	}
	if got, ok := held[slot{b.ID, tier, ""}]; ok && got.EventID == eventID {
		return []events.Event{unlocked(tenant, user, got)}, nil
	}
	return nil, nil
}

// hit is a badge an event counts for: the period it counts in and what it
// adds to each goal it matches.
type hit struct {
	badge  Badge
	period string
	adds   []Contribution
}

// hits returns the published badges ev counts for. It only reads the
// cached index.
func (s *Service) hits(ctx context.Context, ev events.Event) ([]hit, error) {
	ix, err := s.published(ctx, ev.Tenant)
	if err != nil {
		return nil, err
	}
	re := rule.Event{Type: ev.Type, Props: ev.Props, OccurredAt: ev.OccurredAt}
	var out []hit
	for _, b := range ix.For(ev.Type) {
		p, ok := b.Rule.Window.Counts(ev.OccurredAt, ev.ReceivedAt)
		if !ok {
			continue
		}
		h := hit{badge: b, period: p.Key}
		for _, g := range b.Rule.Goals {
			if c, ok := g.Match(re); ok {
				h.adds = append(h.adds, Contribution{
					Tenant: ev.Tenant, BadgeID: b.ID, User: ev.User, Period: p.Key, Goal: g.ID,
					EventID: ev.ID, Amount: c.Amount, Key: c.Key, At: ev.OccurredAt,
				})
			}
		}
		if len(h.adds) > 0 {
			out = append(out, h)
		}
	}
	return out, nil
}

// count stores what ev adds to one badge and awards the tiers now
// reached. A badge whose every tier the user holds in the period is
// finished: nothing is stored, since nothing more can be earned.
func (s *Service) count(ctx context.Context, h hit, ev events.Event, held holdings) ([]events.Event, error) {
	b := h.badge
	if !held.complete(b, h.period) {
		for _, c := range h.adds {
			if _, err := s.store.AddBadgeContribution(ctx, c); err != nil {
				return nil, err
			}
		}
		cs, err := s.store.BadgeContributions(ctx, ev.Tenant, b.ID, ev.User, h.period)
		if err != nil {
			return nil, err
		}
		for _, tier := range b.levels()[:b.reach(cs, ev.OccurredAt)] {
			ok, err := s.take(ctx, b, Award{
				Tenant: ev.Tenant, BadgeID: b.ID, User: ev.User, Tier: tier, Period: h.period,
				EventID: ev.ID, Source: "event:" + ev.ID,
			}, held)
			if err != nil {
				return nil, err
			}
			if !ok {
				break // sold out, and so is every higher tier for this user
			}
		}
	}
	var emit []events.Event
	for _, tier := range b.levels() {
		if a, ok := held[slot{b.ID, tier, h.period}]; ok && a.EventID == ev.ID {
			emit = append(emit, unlocked(ev.Tenant, ev.User, a))
		}
	}
	return emit, nil
}

// take awards a of b unless the user holds its slot already, recording
// it in held and pushing it if new. ok is false when a limited edition
// has none left.
func (s *Service) take(ctx context.Context, b Badge, a Award, held holdings) (bool, error) {
	k := slot{b.ID, a.Tier, a.Period}
	if _, taken := held[k]; taken {
		return true, nil
	}
	a, inserted, err := s.grant(ctx, b, a)
	if errors.Is(err, errSoldOut) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	held[k] = a
	if inserted {
		s.push(ctx, b, a)
	}
	return true, nil
}

// errSoldOut says a limited edition has no number left.
var errSoldOut = errors.New("sold out")

// grant stores a new award of b. For a limited edition it takes the next
// free number, or fails with errSoldOut.
func (s *Service) grant(ctx context.Context, b Badge, a Award) (Award, bool, error) {
	a.ID = uuid.Must(uuid.NewV7()).String()
	a.AwardedAt = s.clock()
	if b.ValidFor != "" {
		d, err := validFor(b.ValidFor)
		if err != nil {
			return Award{}, false, fmt.Errorf("badges: award %s: %w", b.ID, err)
		}
		end := a.AwardedAt.Add(d)
		a.ExpiresAt = &end
	}
	var err error
	var inserted bool
	if b.Limit > 0 {
		a, inserted, err = claimEdition(ctx, s.store, a, b.Limit)
	} else {
		a, inserted, err = s.store.InsertAward(ctx, a)
	}
	if err != nil && !errors.Is(err, errSoldOut) {
		err = fmt.Errorf("badges: award %s: %w", b.ID, err)
	}
	return a, inserted, err
}

// editions is what numbering a limited edition needs from the Store.
type editions interface {
	InsertAward(ctx context.Context, a Award) (Award, bool, error)
	CountAwards(ctx context.Context, tenant, badgeID, tier string) (int64, error)
}

// claimEdition inserts a under the lowest free edition number up to limit.
// Numbers are unique per tier, so of two earners racing for the last one
// exactly one gets it; the other moves on and finds none left. Starting
// from the count only skips numbers certainly taken: awards are never
// deleted, so numbers 1..count are.
func claimEdition(ctx context.Context, st editions, a Award, limit int64) (Award, bool, error) {
	n, err := st.CountAwards(ctx, a.Tenant, a.BadgeID, a.Tier)
	if err != nil {
		return Award{}, false, err
	}
	for a.Edition = n + 1; a.Edition <= limit; a.Edition++ {
		stored, inserted, err := st.InsertAward(ctx, a)
		if !errors.Is(err, errs.ErrDuplicate) {
			return stored, inserted, err
		}
	}
	return Award{}, false, errSoldOut
}

// push tells the user's live connections about a new award. It is best
// effort: the award is written and the player's views read it.
func (s *Service) push(ctx context.Context, b Badge, a Award) {
	if s.notify == nil {
		return
	}
	_ = s.notify.PublishUser(ctx, a.Tenant, a.User, UnlockedType, unlockPush{
		BadgeID: b.ID, Name: b.Name, Tier: a.Tier, ImageURL: b.ImageURL,
		Edition: a.Edition, AwardedAt: a.AwardedAt, ExpiresAt: a.ExpiresAt,
	})
}

// unlockPush is the data of a badge.unlocked push.
type unlockPush struct {
	BadgeID   string     `json:"badge_id"`
	Name      string     `json:"name"`
	Tier      string     `json:"tier,omitempty"`
	ImageURL  string     `json:"image_url,omitempty"`
	Edition   int64      `json:"edition,omitempty"`
	AwardedAt time.Time  `json:"awarded_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// unlocked is the system event of award a, keyed by it so that emitting
// it again changes nothing.
func unlocked(tenant, user string, a Award) events.Event {
	return events.Event{
		Tenant: tenant, User: user, Type: UnlockedType,
		Props:          map[string]any{"badge_id": a.BadgeID, "tier": a.Tier},
		OccurredAt:     a.AwardedAt,
		IdempotencyKey: UnlockedType + ":" + a.ID,
	}
}

// slot is what an award is unique by, for one user.
type slot struct{ badge, tier, period string }

// holdings are a user's awards, expired ones included: an award's slot is
// taken for good. They hold only the slots of the badge periods read.
type holdings map[slot]Award

// holdings reads the user's awards in the badge periods of hits, by key:
// an event's cost does not grow with the awards the user holds elsewhere.
func (s *Service) holdings(ctx context.Context, tenant, user string, hits ...hit) (holdings, error) {
	h := make(holdings)
	for _, x := range hits {
		as, err := s.store.HeldAwards(ctx, tenant, user, x.badge.ID, x.period, x.badge.levels())
		if err != nil {
			return nil, fmt.Errorf("badges: awards of %s: %w", user, err)
		}
		for _, a := range as {
			h[slot{a.BadgeID, a.Tier, a.Period}] = a
		}
	}
	return h, nil
}

// complete reports whether the user holds every tier of b in period.
func (h holdings) complete(b Badge, period string) bool {
	for _, tier := range b.levels() {
		if _, ok := h[slot{b.ID, tier, period}]; !ok {
			return false
		}
	}
	return true
}

// levels are what b awards, in order: its tiers' names, or "" for a plain
// badge.
func (b Badge) levels() []string {
	if len(b.Tiers) == 0 {
		return []string{""}
	}
	names := make([]string, len(b.Tiers))
	for i, t := range b.Tiers {
		names[i] = t.Name
	}
	return names
}

// reach returns how many of b's levels the contributions reach. A rolling
// window is judged at every instant a window holding the event at `at`
// may end: at itself and each later contribution less than a span after
// it. So an event that arrives late completes the windows it would have
// completed had it come in order.
func (b Badge) reach(cs []Contribution, at time.Time) int {
	w := b.Rule.Window
	best := b.reached(b.Rule.Progress(counted(cs, w, at)))
	if w.Rolling == "" {
		return best
	}
	for _, c := range cs {
		if c.At.After(at) && w.RollingFrom(c.At).Before(at) {
			best = max(best, b.reached(b.Rule.Progress(counted(cs, w, c.At))))
		}
	}
	return best
}

// reached returns how many of b's levels progress reaches.
func (b Badge) reached(progress map[string]int64) int {
	if !b.Rule.Met(progress) {
		return 0
	}
	n := 1
	for n < len(b.Tiers) && progress[b.Rule.Goals[0].ID] >= b.tierGoal(n).Threshold() {
		n++
	}
	return n
}

// tierGoal is b's single goal with tier i's target.
func (b Badge) tierGoal(i int) rule.Goal {
	g := b.Rule.Goals[0]
	g.Target = json.Number(b.Tiers[i].Target)
	return g
}

// counted returns the contributions w counts as of at, by goal: all of
// them, or for a rolling window those that occurred in (at-span, at].
func counted(cs []Contribution, w rule.Window, at time.Time) map[string][]rule.Contribution {
	from := w.RollingFrom(at)
	out := map[string][]rule.Contribution{}
	for _, c := range cs {
		if w.Rolling != "" && (!c.At.After(from) || c.At.After(at)) {
			continue
		}
		out[c.Goal] = append(out[c.Goal], rule.Contribution{Amount: c.Amount, Key: c.Key, At: c.At})
	}
	return out
}
