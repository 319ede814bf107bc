package points

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/questline/questline/internal/errs"
)

// Grant gives user a redemption of reward id without payment, once per
// key (a contest prize: the key names the place and its winner). Stock is
// claimed like a redemption's, so a granted reward never oversells; the
// reward's price, tiers, per-user limit, window and active flag do not
// apply (the prize was promised when the contest was made). Out of stock,
// the grant is stored failed (409 out-of-stock, the same on every repeat).
func (s *Service) Grant(ctx context.Context, tenant, user, id, key string) (Redemption, error) {
	r, err := s.Reward(ctx, tenant, id)
	if err != nil {
		return Redemption{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	red := Redemption{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, User: user, Reward: r.ID, IdempotencyKey: key,
		State: RedemptionPending, Period: periodOf(r.LimitPeriod, now), CreatedAt: now, UpdatedAt: now,
	}
	red, _, err = s.store.InsertRedemption(ctx, red)
	if err != nil {
		return Redemption{}, fmt.Errorf("points: grant %s: %w", id, err)
	}
	switch {
	case red.Reward != r.ID:
		return Redemption{}, errs.New(errs.Conflict, ErrKeyReused, "the key was used to redeem another reward")
	case red.State == RedemptionFailed:
		return red, errs.New(errs.Conflict, red.Failure, "this grant was refused: %s", red.Failure)
	case red.State != RedemptionPending:
		return red, nil
	}
	var slot int64
	if r.Stock != nil {
		n, ok, err := s.store.ClaimSlot(ctx, red.Tenant, stockScope(r.ID), red.User, red.ID, *r.Stock)
		if err != nil {
			return Redemption{}, fmt.Errorf("points: grant %s: stock: %w", r.ID, err)
		}
		if !ok {
			return s.fail(ctx, r, red, errs.New(errs.Conflict, ErrOutOfStock, "%s is out of stock", r.Name))
		}
		slot = n
	}
	return s.complete(ctx, r, red, slot, now)
}
