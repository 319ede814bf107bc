package loyalty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// Programme is a tenant's tier programme as stored.
type Programme struct {
	tier.Programme
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TierState is a user's standing in the tenant's tier programme.
type TierState struct {
	Tenant string `json:"-"`
	User   string `json:"user_id"`
	tier.State
	Version int64 `json:"version"`
	// Owed are changes stored but maybe not yet published (see
	// Announcement); stored with the standing, never shown.
	Owed []Announcement `json:"-"`
}

// Announcement is a tier change or grace notice to publish: the user's
// tier attribute, the tier.changed or tier.grace system event, the live
// push. It is stored with the standing that causes it, in the same write,
// and cleared once published, so a crash in between leaves it to the
// review job, which publishes it again once announceAfter has passed.
// Every part is idempotent: the event by its key, the attribute set to
// the standing's current tier.
type Announcement struct {
	Type       string     `json:"type"` // tier.changed or tier.grace
	From       string     `json:"from"`
	To         string     `json:"to"`
	Reason     string     `json:"reason"`
	Key        string     `json:"key"` // the system event's idempotency key
	At         time.Time  `json:"at"`
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	ReviewAt   time.Time  `json:"review_at"`
}

// announceAfter is how long an announcement may stay owed before the
// review job (every minute) takes it for lost and publishes it again.
const announceAfter = time.Minute

// DueAt is when the review job must look at the standing: its review, or
// sooner, an owed announcement's retry. Stores index it.
func (st TierState) DueAt() time.Time {
	due := st.ReviewAt
	for _, a := range st.Owed {
		if at := a.At.Add(announceAfter); due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due
}

// storedTier is a standing's stored body: the tier state's fields and
// the owed announcements beside them, so bodies stored before there were
// any read the same.
type storedTier struct {
	tier.State
	Owed []Announcement `json:"owed,omitempty"`
}

// MarshalBody encodes what a store keeps of st beside its keys and version.
func (st TierState) MarshalBody() ([]byte, error) {
	return json.Marshal(storedTier{State: st.State, Owed: st.Owed})
}

// UnmarshalBody decodes a body MarshalBody made into st.
func (st *TierState) UnmarshalBody(b []byte) error {
	var d storedTier
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	st.State, st.Owed = d.State, d.Owed
	return nil
}

// TierStore keeps tier programmes and users' standings.
type TierStore interface {
	// Tiers returns the tenant's programme; found is false without one.
	Tiers(ctx context.Context, tenant string) (p Programme, found bool, err error)
	// PutTiers stores p if the stored version is p.Version-1 (none for
	// 1): errs.ErrDuplicate otherwise.
	PutTiers(ctx context.Context, tenant string, p Programme) error
	// TierState returns a user's standing; found is false without one.
	TierState(ctx context.Context, tenant, user string) (st TierState, found bool, err error)
	// PutTierState stores st if the stored version is st.Version-1
	// (none for 1): errs.ErrDuplicate otherwise.
	PutTierState(ctx context.Context, st TierState) error
	// DueTierStates lists standings of every tenant whose review_at is
	// set and not after before, soonest first.
	DueTierStates(ctx context.Context, before time.Time, limit int) ([]TierState, error)
}

// Wallets reads what a user earned, for their tier: lifetime from the
// wallet, or in a rolling window (points.Service.EarnedInWindow, whose
// cost is bounded by the window's days, not the user's credits in it).
type Wallets interface {
	Wallet(ctx context.Context, tenant, user string) (points.Wallet, error)
	EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error)
}

// TierAttributes is where a user's tier is published for the rest of
// Questline (challenge eligibility, earn rules' tier multipliers).
type TierAttributes interface {
	Attributes
	PutAttributes(ctx context.Context, tenant, user string, in profiles.AttributesInput) (profiles.Attributes, error)
}

// Emitter feeds system events (tier.changed, tier.grace) into the stream.
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// TierConfig is what tiers need beside the earn rules' Config.
type TierConfig struct {
	Wallets    Wallets
	Attributes TierAttributes
	Emitter    Emitter
	Notifier   Notifier
	Logger     *slog.Logger
}

// SetTiers enables tier programmes. Call it while wiring.
func (s *Service) SetTiers(c TierConfig) { s.tiers = c }

const tiersTopic = "tiers"

// Programme returns the tenant's tier programme (version 0 without one).
func (s *Service) Programme(ctx context.Context, tenant string) (Programme, error) {
	p, _, err := s.Store.Tiers(ctx, tenant)
	if err != nil {
		return Programme{}, fmt.Errorf("loyalty: tiers: %w", err)
	}
	if p.Tiers == nil {
		p.Tiers = []tier.Tier{}
	}
	return p, nil
}

// PutProgramme replaces the tenant's tier programme; version is the one
// last read (0 at first). Standings move to the new tiers at each user's
// next credit (up) or review (down).
func (s *Service) PutProgramme(ctx context.Context, tenant string, version int64, in tier.Programme) (Programme, error) {
	p, err := tier.Normalize(in)
	if err != nil {
		return Programme{}, err
	}
	if p.Basis == tier.Spend {
		if err := events.CheckType(ctx, s.Types, tenant, p.SpendEvent, "body.spend_event"); err != nil {
			return Programme{}, err
		}
	}
	out := Programme{Programme: p, Version: version + 1, UpdatedAt: s.Now().UTC().Truncate(time.Millisecond)}
	err = s.Store.PutTiers(ctx, tenant, out)
	if errors.Is(err, errs.ErrDuplicate) || errors.Is(err, errs.ErrNotFound) {
		return Programme{}, errs.New(errs.Conflict, "edit-conflict", "the tiers changed meanwhile; read them again and send their version")
	}
	if err != nil {
		return Programme{}, fmt.Errorf("loyalty: put tiers: %w", err)
	}
	s.progs.Drop(tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, tiersTopic, tenant)
	}
	return out, nil
}

// programme is the tenant's programme from the node's cache; ok is false
// when it has none.
func (s *Service) programme(ctx context.Context, tenant string) (tier.Programme, bool, error) {
	p, err := s.progs.Get(ctx, tenant, s.Now(), func(ctx context.Context) (Programme, error) {
		p, _, err := s.Store.Tiers(ctx, tenant)
		return p, err
	})
	if err != nil {
		return tier.Programme{}, false, fmt.Errorf("loyalty: tiers of %s: %w", tenant, err)
	}
	return p.Programme, len(p.Tiers) > 0, nil
}

// value is the user's qualifying value under p at now.
func (s *Service) value(ctx context.Context, p tier.Programme, tenant, user string, now time.Time) (int64, error) {
	if p.Basis == tier.Spend {
		last, _, err := s.Store.LastEarnMark(ctx, tenant, spendChain, user)
		return last.State.Total / 100, err
	}
	if p.Basis == tier.Rolling {
		from, to := tier.Window(now)
		return s.tiers.Wallets.EarnedInWindow(ctx, tenant, user, from, to.Add(time.Millisecond))
	}
	w, err := s.tiers.Wallets.Wallet(ctx, tenant, user)
	return w.Earned, err
}

// Earned raises the user's tier at once when a credit takes them over a
// threshold (a points.Observer; replays change nothing).
func (s *Service) Earned(ctx context.Context, e points.Entry) error {
	if s.tiers.Wallets == nil {
		return nil
	}
	p, ok, err := s.programme(ctx, e.Tenant)
	if err != nil || !ok {
		return err
	}
	return s.evaluate(ctx, p, e.Tenant, e.User, func(st tier.State, value int64, now time.Time) (tier.State, tier.Outcome) {
		return p.Upgrade(st, value, now)
	})
}

// spendChain names the chain of marks that folds a user's qualifying
// spend, in cents, for a spend-based tier programme.
const spendChain = "tier:spend"

// foldSpend counts a spend event of a spend-based programme, once, and
// raises the user's tier at once if it takes them over a threshold.
func (s *Service) foldSpend(ctx context.Context, ev events.Event) error {
	p, ok, err := s.programme(ctx, ev.Tenant)
	if err != nil || !ok || p.Basis != tier.Spend || p.SpendEvent != ev.Type || s.tiers.Wallets == nil {
		return err
	}
	// Rate 100 per unit pays the amount in cents: the chain's total is the
	// user's lifetime spend in cents, exact.
	plan, err := earn.Compile(earn.Rule{Kind: earn.Rate, EventType: p.SpendEvent, Prop: p.SpendProp, Rate: "100"})
	if err != nil {
		return fmt.Errorf("loyalty: spend of %s: %w", ev.User, err)
	}
	if _, err := s.fold(ctx, spendChain, plan, ev, earn.Member{}); err != nil {
		return err
	}
	return s.evaluate(ctx, p, ev.Tenant, ev.User, p.Upgrade)
}

// maxTierTries bounds retries of a standing another writer changed meanwhile.
const maxTierTries = 5

// evaluate applies step to the user's standing and stores and announces
// what changed.
func (s *Service) evaluate(ctx context.Context, p tier.Programme, tenant, user string, step func(tier.State, int64, time.Time) (tier.State, tier.Outcome)) error {
	for range maxTierTries {
		now := s.Now().UTC().Truncate(time.Millisecond)
		cur, _, err := s.Store.TierState(ctx, tenant, user)
		if err != nil {
			return fmt.Errorf("loyalty: tier of %s: %w", user, err)
		}
		value, err := s.value(ctx, p, tenant, user, now)
		if err != nil {
			return fmt.Errorf("loyalty: tier value of %s: %w", user, err)
		}
		next, out := step(cur.State, value, now)
		if out == tier.Unchanged {
			return nil
		}
		err = s.saveTier(ctx, cur, TierState{Tenant: tenant, User: user, State: next, Version: cur.Version + 1}, out, "automatic")
		if errors.Is(err, errs.ErrDuplicate) {
			continue
		}
		return err
	}
	return fmt.Errorf("loyalty: tier of %s: changed too often meanwhile", user)
}

// tierFrame is the payload of tier.changed and tier.grace pushes.
type tierFrame struct {
	From       string     `json:"from"`
	To         string     `json:"to"`
	Reason     string     `json:"reason"`
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	ReviewAt   time.Time  `json:"review_at"`
}

// saveTier stores next over cur and, if the tier changed or a grace
// started, owes an announcement, stored in the same write with what cur
// still owed, then publishes what is owed (see publish).
func (s *Service) saveTier(ctx context.Context, cur, next TierState, out tier.Outcome, reason string) error {
	next.Owed = cur.Owed
	typ := "tier.changed"
	if out == tier.Notice {
		typ = "tier.grace"
	}
	if out == tier.Notice || cur.Tier != next.Tier {
		next.Owed = append(slices.Clip(next.Owed), Announcement{Type: typ, From: cur.Tier, To: next.Tier, Reason: reason,
			Key: typ + ":" + next.User + ":" + strconv.FormatInt(next.Version, 10), At: s.Now().UTC().Truncate(time.Millisecond),
			GraceUntil: next.GraceUntil, ReviewAt: next.ReviewAt})
	}
	if err := s.Store.PutTierState(ctx, next); err != nil {
		return fmt.Errorf("loyalty: save tier of %s: %w", next.User, err)
	}
	return s.publish(ctx, next)
}

// publish publishes what st owes, then stores st without it. A writer
// that moved the standing on meanwhile carried the announcements over, so
// losing that race leaves them to it (or to the review job).
func (s *Service) publish(ctx context.Context, st TierState) error {
	if len(st.Owed) == 0 {
		return nil
	}
	if slices.ContainsFunc(st.Owed, func(a Announcement) bool { return a.Type == "tier.changed" }) && s.tiers.Attributes != nil {
		a, _, err := s.tiers.Attributes.GetAttributes(ctx, st.Tenant, st.User)
		if err != nil {
			return fmt.Errorf("loyalty: tier attribute of %s: %w", st.User, err)
		}
		if _, err := s.tiers.Attributes.PutAttributes(ctx, st.Tenant, st.User,
			profiles.AttributesInput{Tier: st.Tier, Segments: a.Segments}); err != nil {
			return fmt.Errorf("loyalty: tier attribute of %s: %w", st.User, err)
		}
	}
	for _, a := range st.Owed {
		if err := s.announce(ctx, st, a); err != nil {
			return err
		}
	}
	st.Owed, st.Version = nil, st.Version+1
	if err := s.Store.PutTierState(ctx, st); err != nil && !errors.Is(err, errs.ErrDuplicate) {
		return fmt.Errorf("loyalty: settle tier of %s: %w", st.User, err)
	}
	return nil
}

// announce emits a's system event (once, by its key) and pushes it live.
func (s *Service) announce(ctx context.Context, st TierState, a Announcement) error {
	if s.tiers.Emitter != nil {
		err := s.tiers.Emitter.Emit(ctx, events.Event{Tenant: st.Tenant, User: st.User, Type: a.Type,
			Props: map[string]any{"from": a.From, "to": a.To, "reason": a.Reason}, OccurredAt: a.At, IdempotencyKey: a.Key})
		if err != nil {
			return fmt.Errorf("loyalty: emit %s for %s: %w", a.Type, st.User, err)
		}
	}
	if s.tiers.Notifier != nil {
		f := tierFrame{From: a.From, To: a.To, Reason: a.Reason, GraceUntil: a.GraceUntil, ReviewAt: a.ReviewAt}
		_ = s.tiers.Notifier.PublishUser(ctx, st.Tenant, st.User, a.Type, f) // a courtesy: GET /v1/me/tier tells the truth
	}
	return nil
}

// Assign sets a user's tier by hand (a manager or a manage key); a locked
// one is left alone by upgrades and reviews until assigned again.
func (s *Service) Assign(ctx context.Context, tenant, user, name string, locked bool) (TierState, error) {
	p, ok, err := s.programme(ctx, tenant)
	if err != nil {
		return TierState{}, err
	}
	if !ok || p.Rank(name) < 0 {
		return TierState{}, errs.New(errs.Unprocessable, "unknown-tier", "the tenant has no tier %q", name).OnField("body.tier")
	}
	cur, _, err := s.Store.TierState(ctx, tenant, user)
	if err != nil {
		return TierState{}, fmt.Errorf("loyalty: tier of %s: %w", user, err)
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	next := TierState{Tenant: tenant, User: user, Version: cur.Version + 1, State: tier.State{
		Tier: name, Since: now, ReviewAt: p.NextReview(now, now), Manual: true, Locked: locked}}
	err = s.saveTier(ctx, cur, next, tier.Upgraded, "manual")
	if errors.Is(err, errs.ErrDuplicate) {
		return TierState{}, errs.New(errs.Conflict, "edit-conflict", "the user's tier changed meanwhile; retry")
	}
	return next, err
}

// ReviewTiers applies every review due by now, all tenants, in batches;
// two nodes or runs overlapping apply each once (the standing's version
// decides). It returns how many standings it changed.
func (s *Service) ReviewTiers(ctx context.Context, now time.Time) (int, error) {
	changed := 0
	for {
		due, err := s.Store.DueTierStates(ctx, now, 200)
		if err != nil {
			return changed, fmt.Errorf("loyalty: due tier reviews: %w", err)
		}
		moved := 0
		for _, st := range due {
			if len(st.Owed) > 0 && !st.DueAt().After(now) {
				if err := s.publish(ctx, st); err != nil { // a crash left it owed
					return changed, err
				}
			}
			p, ok, err := s.programme(ctx, st.Tenant)
			if err != nil {
				return changed, err
			}
			if !ok {
				continue
			}
			err = s.evaluate(ctx, p, st.Tenant, st.User, func(cur tier.State, value int64, _ time.Time) (tier.State, tier.Outcome) {
				return p.Reviewed(cur, value, now)
			})
			if err != nil {
				return changed, err
			}
			changed++
			moved++
		}
		if len(due) < 200 || moved == 0 {
			if changed > 0 && s.tiers.Logger != nil {
				s.tiers.Logger.Info("tier reviews applied", "count", changed)
			}
			return changed, nil
		}
	}
}

// RunTierReviews reviews due tiers every interval until ctx ends.
func (s *Service) RunTierReviews(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.ReviewTiers(ctx, s.Now().UTC()); err != nil && s.tiers.Logger != nil && ctx.Err() == nil {
				s.tiers.Logger.Error("tier reviews failed", "err", err)
			}
		}
	}
}

// TierView is what a user sees of their tier.
type TierView struct {
	Tier       string     `json:"tier" doc:"The current tier; empty below the lowest."`
	Since      *time.Time `json:"since,omitempty"`
	ReviewAt   *time.Time `json:"review_at,omitempty" doc:"When the tier is next reviewed for a downgrade."`
	GraceUntil *time.Time `json:"grace_until,omitempty" doc:"Set while below the tier after a review: requalify by then to keep it."`
	Locked     bool       `json:"locked"`
	Basis      tier.Basis `json:"basis"`
	Value      int64      `json:"value" doc:"The qualifying value now: lifetime or last-12-months points, or lifetime spend in whole units of the spend prop."`
	NextTier   string     `json:"next_tier,omitempty"`
	Needed     int64      `json:"needed,omitempty" doc:"Qualifying value still needed for next_tier."`
}

// View returns the user's tier, and how far the next one is.
func (s *Service) View(ctx context.Context, tenant, user string) (TierView, error) {
	p, ok, err := s.programme(ctx, tenant)
	if err != nil {
		return TierView{}, err
	}
	if !ok {
		return TierView{}, errs.New(errs.NotFound, "no-tiers", "the tenant has no tier programme")
	}
	st, found, err := s.Store.TierState(ctx, tenant, user)
	if err != nil {
		return TierView{}, fmt.Errorf("loyalty: tier of %s: %w", user, err)
	}
	now := s.Now().UTC()
	v := TierView{Tier: st.Tier, Locked: st.Locked, Basis: p.Basis, GraceUntil: st.GraceUntil}
	if v.Value, err = s.value(ctx, p, tenant, user, now); err != nil {
		return TierView{}, fmt.Errorf("loyalty: tier value of %s: %w", user, err)
	}
	if found {
		v.Since = &st.Since
		if !st.ReviewAt.IsZero() {
			v.ReviewAt = &st.ReviewAt
		}
	}
	if next := p.Rank(st.Tier) + 1; next < len(p.Tiers) {
		v.NextTier, v.Needed = p.Tiers[next].Name, max(0, p.Tiers[next].Threshold-v.Value)
	}
	return v, nil
}
