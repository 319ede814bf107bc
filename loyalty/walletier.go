package loyalty

import (
	"context"
	"fmt"

	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
)

// WalletTier gives the wallet the user's tier and the next one (a
// points.Tiers). It reads the cached programme and the user's standing,
// and for the value the wallet's earnings, the spend chain's last mark,
// or, on a rolling basis, the sum of the user's credits of the last 12
// months (day sums for the window's whole days, the ledger for its
// partial first and last days: bounded by days, not credits).
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
	if p.Basis != tier.Lifetime {
		if p.Basis == tier.Rolling && s.tiers.Wallets == nil {
			return t, true, nil // not wired to the ledger: no window to sum
		}
		if value, err = s.value(ctx, p, tenant, user, s.Now()); err != nil {
			return points.WalletTier{}, false, fmt.Errorf("loyalty: tier value of %s: %w", user, err)
		}
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
