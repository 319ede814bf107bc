package points

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/internal/bus"
)

// Tiers tells points about the tenant's tier programme (loyalty's): the
// wallet shows the user's tier and the next, and a tier's rewards benefit
// opens rewards to its members.
type Tiers interface {
	// WalletTier returns the user's tier, the next one and the qualifying
	// value still needed for it, reading the user's folded state (earned
	// is the wallet's lifetime earnings) or, on a rolling basis, a window
	// sum; ok is false when the tenant has no tier programme.
	WalletTier(ctx context.Context, tenant, user string, earned int64) (t WalletTier, ok bool, err error)
	// RewardTiers maps each reward id a tier's rewards benefit names to
	// the tiers that may redeem it: that tier and those above.
	RewardTiers(ctx context.Context, tenant string) (map[string][]string, error)
}

// SetTiers sets the tier programme the wallet and rewards read (nil: none).
func (s *Service) SetTiers(t Tiers) { s.tiers = t }

// WalletTier is the wallet's view of the user's tier.
type WalletTier struct {
	Tier     string `json:"tier" doc:"The current tier; empty below the lowest."`
	Basis    string `json:"basis" doc:"What qualifies: lifetime_points, rolling_points or spend."`
	NextTier string `json:"next_tier,omitempty"`
	Needed   *int64 `json:"needed,omitempty" doc:"Points (or spend, in the spend prop's unit) still needed for next_tier; for rolling_points, against the points earned in the last 12 months."`
}

// NextReward is the reward the user is closest to.
type NextReward struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Cost  int64  `json:"cost"`
	Short int64  `json:"short" doc:"Points still missing; 0: the user can redeem it now."`
}

// rewardCacheTTL is the safety net of the per-node catalogue cache, for
// a bus message lost: writes drop it on every node through the bus.
const rewardCacheTTL = 5 * time.Second

// rewardsTopic carries the tenant whose catalogue changed.
const rewardsTopic = "points.rewards"

// SetBus makes catalogue changes drop every node's cached copy.
func (s *Service) SetBus(b bus.Bus) {
	s.bus = b
	b.Subscribe(rewardsTopic, s.rewards.Drop)
}

// rewardsChanged drops the tenant's cached catalogue here and elsewhere.
func (s *Service) rewardsChanged(ctx context.Context, tenant string) {
	s.rewards.Drop(tenant)
	if s.bus != nil {
		s.bus.Publish(ctx, rewardsTopic, tenant)
	}
}

// catalogue returns the tenant's rewards from the node's cache, so a
// wallet read costs no catalogue query.
func (s *Service) catalogue(ctx context.Context, tenant string) ([]Reward, error) {
	return s.rewards.Get(ctx, tenant, time.Now(), func(ctx context.Context) ([]Reward, error) {
		return s.Rewards(ctx, tenant)
	})
}

// Access is what a user may redeem: their tier and the tiers each
// tier-benefit reward is open to.
type Access struct {
	Tier     string
	Benefits map[string][]string
}

// access reads the user's tier (profile attributes) and the programme's
// reward benefits.
func (s *Service) access(ctx context.Context, tenant, user string) (Access, error) {
	var a Access
	if s.attrs != nil {
		at, _, err := s.attrs.GetAttributes(ctx, tenant, user)
		if err != nil {
			return Access{}, fmt.Errorf("points: tier of %s: %w", user, err)
		}
		a.Tier = at.Tier
	}
	if s.tiers != nil {
		b, err := s.tiers.RewardTiers(ctx, tenant)
		if err != nil {
			return Access{}, fmt.Errorf("points: reward tiers: %w", err)
		}
		a.Benefits = b
	}
	return a, nil
}

// AccessTiers are the tiers that may redeem r: its own tiers and those of
// the tier benefits naming it; empty = everyone.
func (a Access) AccessTiers(r Reward) []string {
	ts := slices.Concat(r.Tiers, a.Benefits[r.ID])
	slices.Sort(ts)
	return slices.Compact(ts)
}

// Allows says whether the user may redeem r as far as tiers go.
func (a Access) Allows(r Reward) bool {
	ts := a.AccessTiers(r)
	return len(ts) == 0 || slices.Contains(ts, a.Tier)
}

// open says whether r can be redeemed at now (active, in its window).
func (r Reward) open(now time.Time) bool {
	return r.Active && (r.StartsAt == nil || !now.Before(*r.StartsAt)) && (r.EndsAt == nil || now.Before(*r.EndsAt))
}

// nextReward picks, among the rewards open to the user now, the cheapest
// they cannot afford yet (how far away it is), or else the dearest they
// can. inStock is asked only of candidates, in order.
func nextReward(rs []Reward, a Access, balance int64, now time.Time, inStock func(Reward) (bool, error)) (*NextReward, error) {
	var cands []Reward
	for _, r := range rs {
		if r.open(now) && a.Allows(r) {
			cands = append(cands, r)
		}
	}
	// Unaffordable ones cheapest first, then affordable ones dearest first.
	slices.SortStableFunc(cands, func(x, y Reward) int {
		xa, ya := x.Cost <= balance, y.Cost <= balance
		switch {
		case xa != ya:
			if ya {
				return -1
			}
			return 1
		case xa:
			return int(y.Cost - x.Cost)
		}
		return int(x.Cost - y.Cost)
	})
	for _, r := range cands {
		ok, err := inStock(r)
		if err != nil {
			return nil, err
		}
		if ok {
			return &NextReward{ID: r.ID, Name: r.Name, Cost: r.Cost, Short: max(0, r.Cost-balance)}, nil
		}
	}
	return nil, nil
}

// reach fills the wallet's tier and next reward.
func (s *Service) reach(ctx context.Context, tenant, user string, w *Wallet) error {
	if s.tiers != nil {
		t, ok, err := s.tiers.WalletTier(ctx, tenant, user, w.Earned)
		if err != nil {
			return fmt.Errorf("points: wallet tier: %w", err)
		}
		if ok {
			w.Tier = &t
		}
	}
	rs, err := s.catalogue(ctx, tenant)
	if err != nil || len(rs) == 0 {
		return err
	}
	a, err := s.access(ctx, tenant, user)
	if err != nil {
		return err
	}
	w.NextReward, err = nextReward(rs, a, w.Balance, s.now(), func(r Reward) (bool, error) {
		left, err := s.StockLeft(ctx, r)
		return left == nil || *left > 0, err
	})
	return err
}
