package points

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/profiles"
)

// Attributes reads a user's tier, for tier-restricted rewards.
type Attributes interface {
	GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error)
}

// SetAttributes sets where user tiers are read (nil: no tier, so
// tier-restricted rewards are refused to everyone).
func (s *Service) SetAttributes(a Attributes) { s.attrs = a }

// Error codes of redemptions.
const (
	ErrRewardNotFound     = "reward-not-found"     // 404
	ErrRewardUnavailable  = "reward-unavailable"   // 409: out of its window
	ErrOutOfStock         = "out-of-stock"         // 409
	ErrLimitReached       = "redemption-limit"     // 409: the user's limit for the period
	ErrTierRequired       = "tier-required"        // 403: a VIP reward
	ErrRedemptionNotFound = "redemption-not-found" // 404
	ErrRedemptionState    = "redemption-state"     // 409: cannot fulfil or cancel it now
	ReasonRedemption      = "redemption"           // the reason of a redemption's ledger line
	ReasonRefund          = "refund"               // the reason of a cancelled one's
)

// CreateReward adds a reward to the tenant's catalogue.
func (s *Service) CreateReward(ctx context.Context, tenant string, r Reward) (Reward, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	r.ID, r.Tenant, r.CreatedAt, r.UpdatedAt = uuid.Must(uuid.NewV7()).String(), tenant, now, now
	if r.Kind == KindCoupon {
		n := int64(len(r.Codes))
		r.Stock = &n
	}
	if err := r.validate(); err != nil {
		return Reward{}, err
	}
	if err := s.store.PutReward(ctx, r); err != nil {
		return Reward{}, fmt.Errorf("points: create reward: %w", err)
	}
	s.rewardsChanged(ctx, tenant)
	return r, nil
}

// UpdateReward replaces a reward's definition with edit applied; its id,
// kind and creation time stay.
func (s *Service) UpdateReward(ctx context.Context, tenant, id string, edit func(*Reward)) (Reward, error) {
	r, err := s.Reward(ctx, tenant, id)
	if err != nil {
		return Reward{}, err
	}
	kind := r.Kind
	edit(&r)
	r.Kind, r.UpdatedAt = kind, s.now().UTC().Truncate(time.Millisecond)
	if r.Kind == KindCoupon {
		n := int64(len(r.Codes))
		r.Stock = &n
	}
	if err := r.validate(); err != nil {
		return Reward{}, err
	}
	if err := s.store.PutReward(ctx, r); err != nil {
		return Reward{}, fmt.Errorf("points: update reward %s: %w", id, err)
	}
	s.rewardsChanged(ctx, tenant)
	return r, nil
}

// Reward returns one reward of the tenant.
func (s *Service) Reward(ctx context.Context, tenant, id string) (Reward, error) {
	r, err := s.store.GetReward(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Reward{}, rewardNotFound(id)
	}
	if err != nil {
		return Reward{}, fmt.Errorf("points: reward %s: %w", id, err)
	}
	return r, nil
}

// Rewards lists the tenant's catalogue, with the stock left of each.
func (s *Service) Rewards(ctx context.Context, tenant string) ([]Reward, error) {
	rs, err := s.store.ListRewards(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("points: rewards: %w", err)
	}
	return rs, nil
}

// StockLeft is how many of r are left (nil: unlimited).
func (s *Service) StockLeft(ctx context.Context, r Reward) (*int64, error) {
	if r.Stock == nil {
		return nil, nil
	}
	n, err := s.store.CountSlots(ctx, r.Tenant, stockScope(r.ID))
	if err != nil {
		return nil, fmt.Errorf("points: stock of %s: %w", r.ID, err)
	}
	left := max(*r.Stock-n, 0)
	return &left, nil
}

func stockScope(reward string) string { return "stock:" + reward }

func limitScope(reward, user, period string) string {
	return "limit:" + reward + ":" + period + ":" + user
}

// redemptionKey is the ledger (and wallet change) key of a redemption's
// payment: it names the redemption, never the user.
func redemptionKey(id string) string { return "redemption:" + id }

// Redeem redeems reward id for user once per idempotency key: it never
// oversells stock nor goes past the user's limit, never overdraws the
// balance (paying from the soonest-expiring lots), and returns the
// redemption, with its code. A repeat returns the first call's
// redemption; a refused redemption is stored as failed, so its repeat is
// refused the same way.
func (s *Service) Redeem(ctx context.Context, tenant, user, id, idemKey string) (Redemption, error) {
	r, err := s.Reward(ctx, tenant, id)
	if err != nil {
		return Redemption{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	pol, err := s.Policy(ctx, tenant)
	if err != nil {
		return Redemption{}, err
	}
	loc, err := pol.location()
	if err != nil {
		return Redemption{}, fmt.Errorf("points: redeem %s: %w", id, err)
	}
	red := Redemption{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, User: user, Reward: r.ID, IdempotencyKey: idemKey,
		Cost: r.Cost, State: RedemptionPending, Period: periodOf(r.LimitPeriod, now.In(loc)), CreatedAt: now, UpdatedAt: now,
	}
	red, _, err = s.store.InsertRedemption(ctx, red)
	if err != nil {
		return Redemption{}, fmt.Errorf("points: redeem %s: %w", id, err)
	}
	if red.Reward != r.ID {
		if !r.Active {
			return Redemption{}, rewardNotFound(id)
		}
		return Redemption{}, errs.New(errs.Conflict, ErrKeyReused, "the idempotency key was used to redeem another reward")
	}
	switch red.State {
	case RedemptionPending:
		return s.pay(ctx, r, red, now)
	case RedemptionFailed:
		if red.Failure == ErrRewardNotFound {
			return red, rewardNotFound(id)
		}
		status := errs.Conflict
		if red.Failure == ErrTierRequired {
			status = errs.Forbidden
		}
		return red, errs.New(status, red.Failure, "this redemption was refused: %s", red.Failure)
	}
	return red, nil
}

// rewardNotFound is the answer for a missing reward, and for an inactive
// one to a redeemer: players do not see a reward out of the catalogue (its
// GET answers as a missing id too), so redeeming it must not name it.
func rewardNotFound(id string) *errs.Error {
	return errs.New(errs.NotFound, ErrRewardNotFound, "no reward %q", id)
}

// pay takes a pending redemption to completed or failed. Every step is
// keyed by the redemption, so a retry after a crash resumes it.
func (s *Service) pay(ctx context.Context, r Reward, red Redemption, now time.Time) (Redemption, error) {
	if refusal, err := s.eligible(ctx, r, red, now); err != nil || refusal != nil {
		if err != nil {
			return Redemption{}, err
		}
		return s.fail(ctx, r, red, refusal)
	}
	var slot int64
	if r.UserLimit > 0 {
		_, ok, err := s.store.ClaimSlot(ctx, red.Tenant, limitScope(r.ID, red.User, red.Period), red.User, red.ID, r.UserLimit)
		if err != nil {
			return Redemption{}, fmt.Errorf("points: redeem %s: limit: %w", r.ID, err)
		}
		if !ok {
			return s.fail(ctx, r, red, errs.New(errs.Conflict, ErrLimitReached, "the limit of %d redemptions per %s is reached", r.UserLimit, r.LimitPeriod))
		}
	}
	if r.Stock != nil {
		n, ok, err := s.store.ClaimSlot(ctx, red.Tenant, stockScope(r.ID), red.User, red.ID, *r.Stock)
		if err != nil {
			return Redemption{}, fmt.Errorf("points: redeem %s: stock: %w", r.ID, err)
		}
		if !ok {
			return s.fail(ctx, r, red, errs.New(errs.Conflict, ErrOutOfStock, "%s is out of stock", r.Name))
		}
		slot = n
	}
	c, err := s.Spend(ctx, Spend{Tenant: red.Tenant, User: red.User, Amount: r.Cost, Key: redemptionKey(red.ID), Reason: ReasonRedemption})
	if e, ok := errs.As(err); ok && e.Code == ErrInsufficient {
		return s.fail(ctx, r, red, e)
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("points: redeem %s: %w", r.ID, err)
	}
	red.Takes = c.Takes
	return s.complete(ctx, r, red, slot, now)
}

// complete hands over a paid (or granted) redemption holding stock slot:
// its code or content, stored, then reward.redeemed (keyed by it).
func (s *Service) complete(ctx context.Context, r Reward, red Redemption, slot int64, now time.Time) (Redemption, error) {
	red.State, red.UpdatedAt = RedemptionCompleted, now
	switch r.Kind {
	case KindCoupon:
		red.Code = r.Codes[slot%int64(len(r.Codes))]
	case KindGenerated:
		red.Code = rand.Text()[:12]
	case KindContent:
		red.Content = r.Content
	}
	if err := s.store.SaveRedemption(ctx, red); err != nil {
		return Redemption{}, fmt.Errorf("points: redemption %s of %s: %w", red.ID, r.ID, err)
	}
	err := s.emitEvent(ctx, events.Event{
		Tenant: red.Tenant, User: red.User, Type: EventRedeemed, OccurredAt: now,
		Props:          map[string]any{"reward_id": r.ID, "redemption_id": red.ID, "cost": float64(red.Cost)},
		IdempotencyKey: EventRedeemed + ":" + red.ID,
	})
	return red, err
}

// EventRedeemed is the system event of a completed redemption.
const EventRedeemed = "reward.redeemed"

// eligible says why the user may not redeem r now (nil: they may).
func (s *Service) eligible(ctx context.Context, r Reward, red Redemption, now time.Time) (*errs.Error, error) {
	switch {
	case !r.Active:
		return rewardNotFound(r.ID), nil
	case r.StartsAt != nil && now.Before(*r.StartsAt), r.EndsAt != nil && !now.Before(*r.EndsAt):
		return errs.New(errs.Conflict, ErrRewardUnavailable, "%s is not available now", r.Name), nil
	}
	a, err := s.access(ctx, red.Tenant, red.User)
	if err != nil {
		return nil, fmt.Errorf("points: redeem %s: %w", r.ID, err)
	}
	if !a.Allows(r) {
		return errs.New(errs.Forbidden, ErrTierRequired, "%s is for tiers %v", r.Name, a.AccessTiers(r)), nil
	}
	return nil, nil
}

// fail records the refusal and gives back what the redemption held.
func (s *Service) fail(ctx context.Context, r Reward, red Redemption, why *errs.Error) (Redemption, error) {
	if err := s.release(ctx, r, red); err != nil {
		return Redemption{}, err
	}
	red.State, red.Failure, red.UpdatedAt = RedemptionFailed, why.Code, s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.SaveRedemption(ctx, red); err != nil {
		return Redemption{}, fmt.Errorf("points: redeem %s: %w", r.ID, err)
	}
	return red, why
}

func (s *Service) release(ctx context.Context, r Reward, red Redemption) error {
	scopes := []string{limitScope(r.ID, red.User, red.Period)}
	// A coupon's code was shown to the customer: it is never handed out
	// again, so its slot (which names the code) stays taken.
	if r.Kind != KindCoupon || red.Code == "" {
		scopes = append(scopes, stockScope(r.ID))
	}
	for _, scope := range scopes {
		if err := s.store.ReleaseSlot(ctx, red.Tenant, scope, red.ID); err != nil {
			return fmt.Errorf("points: release %s: %w", scope, err)
		}
	}
	return nil
}

// Redemptions lists a user's redemptions, newest first. A redemption
// refused as a missing reward (asked for while the reward was out of the
// catalogue) is left out: to the user it answered as an unknown id, which
// leaves no record, and listing it would show the hidden reward's cost.
// Its record stays only so that a retry with its key answers the same.
func (s *Service) Redemptions(ctx context.Context, tenant, user string) ([]Redemption, error) {
	rs, err := s.store.UserRedemptions(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("points: redemptions: %w", err)
	}
	return slices.DeleteFunc(rs, func(r Redemption) bool {
		return r.State == RedemptionFailed && r.Failure == ErrRewardNotFound
	}), nil
}

func (s *Service) redemption(ctx context.Context, tenant, id string) (Redemption, error) {
	red, err := s.store.GetRedemption(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Redemption{}, errs.New(errs.NotFound, ErrRedemptionNotFound, "no redemption %q", id)
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("points: redemption %s: %w", id, err)
	}
	return red, nil
}

// Fulfil marks a completed redemption fulfilled (a physical item shipped).
// Fulfilling a fulfilled one changes nothing.
func (s *Service) Fulfil(ctx context.Context, tenant, id string) (Redemption, error) {
	red, err := s.redemption(ctx, tenant, id)
	if err != nil || red.State == RedemptionFulfilled {
		return red, err
	}
	if red.State != RedemptionCompleted {
		return Redemption{}, errs.New(errs.Conflict, ErrRedemptionState, "a %s redemption cannot be fulfilled", red.State)
	}
	red.State, red.UpdatedAt = RedemptionFulfilled, s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.SaveRedemption(ctx, red); err != nil {
		return Redemption{}, fmt.Errorf("points: fulfil %s: %w", id, err)
	}
	return red, nil
}

// Cancel cancels a completed redemption: its points go back to the lots
// they came from (or to new lots, under the tenant's policy, for lots
// that expired meanwhile), its stock and limit slots are freed (a
// coupon's stock slot stays taken: its code was seen). Repeats
// change nothing.
func (s *Service) Cancel(ctx context.Context, tenant, id string) (Redemption, error) {
	red, err := s.redemption(ctx, tenant, id)
	if err != nil || red.State == RedemptionCancelled {
		return red, err
	}
	if red.State != RedemptionCompleted {
		return Redemption{}, errs.New(errs.Conflict, ErrRedemptionState, "a %s redemption cannot be cancelled", red.State)
	}
	if _, err := s.Refund(ctx, tenant, redemptionKey(red.ID)); err != nil {
		return Redemption{}, err
	}
	r, err := s.Reward(ctx, tenant, red.Reward)
	if err != nil {
		return Redemption{}, err
	}
	if err := s.release(ctx, r, red); err != nil {
		return Redemption{}, err
	}
	red.State, red.UpdatedAt = RedemptionCancelled, s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.SaveRedemption(ctx, red); err != nil {
		return Redemption{}, fmt.Errorf("points: cancel %s: %w", id, err)
	}
	return red, nil
}

// RefundKey is the ledger key of the refund of the spend keyed key.
func RefundKey(key string) string { return key + ":refund" }

// Refund gives back the points of the spend keyed key, once: each point
// returns to the lot it was taken from, or, where that lot has expired
// since, to a new lot made under the tenant's policy now. A refund is no
// earning: lifetime earnings and leaderboards do not count it.
func (s *Service) Refund(ctx context.Context, tenant, key string) (Change, error) {
	spend, err := s.store.ChangeByKey(ctx, tenant, key)
	if errors.Is(err, errs.ErrNotFound) {
		return Change{}, errs.New(errs.NotFound, ErrNoCredit, "no spend has the key %q", key)
	}
	if err != nil {
		return Change{}, fmt.Errorf("points: refund %s: %w", key, err)
	}
	if spend.Kind != KindSpend {
		return Change{}, errs.New(errs.Unprocessable, ErrNotACredit, "%q is not a spend", key)
	}
	p, err := s.Policy(ctx, tenant)
	if err != nil {
		return Change{}, err
	}
	now := s.now().UTC()
	rkey := RefundKey(key)
	c, applied, err := s.store.ApplyChange(ctx, tenant, spend.User, rkey, planRefund(spend, p, rkey, now))
	if err != nil {
		return Change{}, fmt.Errorf("points: refund %s: %w", key, err)
	}
	c.Repeat = !applied
	e := Entry{Tenant: tenant, User: spend.User, Amount: spend.Amount, Key: rkey, Reason: ReasonRefund, CreatedAt: c.At}
	stored, _, err := s.store.InsertEntry(ctx, e)
	if err != nil {
		return Change{}, fmt.Errorf("points: refund %s: ledger: %w", key, err)
	}
	// Recorded like a reversal, so EarnedBetween leaves it out.
	if err := s.store.InsertReversal(ctx, stored, c.At); err != nil {
		return Change{}, fmt.Errorf("points: refund %s: %w", key, err)
	}
	s.pushBalance(ctx, tenant, spend.User, spend.Amount, ReasonRefund, c.Balance, applied)
	return c, nil
}

// planRefund returns the points of spend to their lots.
func planRefund(spend Change, p Policy, key string, now time.Time) Planner {
	return func(ctx context.Context, w WalletView) (Change, error) {
		b := w.Balance().prune(now)
		c := Change{Kind: KindRefund, Amount: spend.Amount, At: now}
		for i, t := range spend.Takes {
			l, ok, err := w.Lot(ctx, t.Lot)
			if err != nil {
				return Change{}, err
			}
			if !ok || (!l.ExpiresAt.IsZero() && !l.ExpiresAt.After(now)) {
				e := Entry{ID: fmt.Sprintf("%s-%d", uuid.Must(uuid.NewV7()), i), Key: fmt.Sprintf("%s:%d", key, i), Amount: t.Amount, CreatedAt: now}
				l = p.Lot(e)
				l.Remaining, l.AvailableAt, l.ExpiresAt = 0, now, p.ExpiresAt(now, now) // refunded points are not pending
			}
			l.Remaining += t.Amount
			if !l.ExpiresAt.IsZero() {
				b.Expiring = addBucket(b.Expiring, l.ExpiresAt, t.Amount)
			}
			if l.AvailableAt.After(now) {
				b.Pending = addBucket(b.Pending, l.AvailableAt, t.Amount)
			}
			c.Lots = append(c.Lots, l)
			c.Takes = append(c.Takes, Take{Lot: l.ID, Amount: -t.Amount})
		}
		b.Held += spend.Amount
		b.Spent -= spend.Amount
		c.Balance = b
		return c, nil
	}
}
