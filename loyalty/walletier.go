package loyalty

import (
	"context"
	"fmt"

	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
)

// WalletTier gives the wallet the user's tier and the next one (a
// points.Tiers). It reads the cached programme and the user's standing,
// and for the value the wallet's earnings or the spend chain's last mark:
// never the user's history. A rolling basis's value is a window sum, so
// the wallet leaves its need out.
func (s *Service) WalletTier(ctx context.Context, tenant, user string, earned int64) (points.WalletTier, bool, error) {
	p, ok, err := s.programme(ctx, tenant)
	if err != nil || !ok {
		return points.WalletTier{}, false, err
	}
	st, _, err := s.Store.TierState(ctx, tenant, user)
	if err != nil {
		return points.WalletTier{}, false, fmt.Errorf("loyalty: tier of %s: %w", user, err)
	}
	t := points.WalletTier{Tier: st.Tier, Basis: string(p.Basis)}
	next := p.Rank(st.Tier) + 1
	if next >= len(p.Tiers) {
		return t, true, nil
	}
	t.NextTier = p.Tiers[next].Name
	value := earned
	switch p.Basis {
	case tier.Rolling:
		return t, true, nil
	case tier.Spend:
		last, _, err := s.Store.LastEarnMark(ctx, tenant, spendChain, user)
		if err != nil {
			return points.WalletTier{}, false, fmt.Errorf("loyalty: spend of %s: %w", user, err)
		}
		value = last.State.Total / 100
	}
	needed := max(0, p.Tiers[next].Threshold-value)
	t.Needed = &needed
	return t, true, nil
}

// RewardTiers maps each reward a tier's rewards benefit names to the
// tiers that may redeem it: that tier and every one above (a
// points.Tiers).
func (s *Service) RewardTiers(ctx context.Context, tenant string) (map[string][]string, error) {
	p, ok, err := s.programme(ctx, tenant)
	if err != nil || !ok {
		return nil, err
	}
	return rewardTiers(p), nil
}

func rewardTiers(p tier.Programme) map[string][]string {
	m := map[string][]string{}
	for i, t := range p.Tiers {
		for _, id := range t.Rewards {
			if _, seen := m[id]; seen {
				continue // the lowest tier naming it opens it
			}
			for _, above := range p.Tiers[i:] {
				m[id] = append(m[id], above.Name)
			}
		}
	}
	return m
}
