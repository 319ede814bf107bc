package points

import (
	"context"
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Reward kinds: what a redemption hands over.
const (
	KindCoupon    = "coupon"    // a code from the reward's uploaded pool
	KindGenerated = "generated" // a code generated for the redemption
	KindPhysical  = "physical"  // an item a manager ships, then marks fulfilled
	KindContent   = "content"   // unlockable content, named by Content
)

// Limit periods of a reward's per-user limit.
const (
	PeriodLifetime = "lifetime"
	PeriodDay      = "day"
	PeriodWeek     = "week"
	PeriodMonth    = "month"
)

// Reward is an item of the tenant's catalogue.
type Reward struct {
	ID          string     `json:"id"`
	Tenant      string     `json:"-"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Kind        string     `json:"kind"`
	Cost        int64      `json:"cost"`
	Stock       *int64     `json:"stock,omitempty" doc:"Absent: unlimited. A coupon reward's stock is its number of codes."`
	UserLimit   int64      `json:"user_limit,omitempty" doc:"Redemptions per user per limit_period; 0 = no limit."`
	LimitPeriod string     `json:"limit_period,omitempty"`
	Tiers       []string   `json:"tiers,omitempty" doc:"Only users whose tier (profile attributes) is one of these may redeem; empty = everyone, unless a tier's rewards benefit names the reward (see access_tiers)."`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
	Content     string     `json:"content,omitempty" doc:"The content a content reward unlocks."`
	Codes       []string   `json:"-"` // a coupon reward's pool; never shown
	Active      bool       `json:"active"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Redemption states.
const (
	RedemptionPending   = "pending"   // being paid
	RedemptionCompleted = "completed" // paid; code handed over
	RedemptionFulfilled = "fulfilled" // a manager fulfilled it
	RedemptionCancelled = "cancelled" // refunded and restocked
	RedemptionFailed    = "failed"    // refused (balance, stock, limit); nothing taken
)

// Redemption is one redemption of a reward by a user.
type Redemption struct {
	ID             string    `json:"id"`
	Tenant         string    `json:"-"`
	User           string    `json:"user_id"`
	Reward         string    `json:"reward_id"`
	IdempotencyKey string    `json:"-"`
	Cost           int64     `json:"cost"`
	State          string    `json:"state"`
	Code           string    `json:"code,omitempty"`
	Content        string    `json:"content,omitempty"`
	Failure        string    `json:"failure,omitempty" doc:"Why a failed redemption was refused (a problem code)."`
	Takes          []Take    `json:"takes,omitempty" doc:"The lots it was paid from."`
	Period         string    `json:"-"` // the limit period it counts in
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// RewardStore keeps the catalogue and redemptions. Stock and per-user
// limits are slots claimed under unique keys, exact on every store.
type RewardStore interface {
	// PutReward creates or replaces a reward.
	PutReward(ctx context.Context, r Reward) error
	// GetReward returns a reward or errs.ErrNotFound.
	GetReward(ctx context.Context, tenant, id string) (Reward, error)
	ListRewards(ctx context.Context, tenant string) ([]Reward, error)
	// ClaimSlot gives owner one of the n slots of scope, the lowest free
	// one: ok is false when all n are held by others. An owner holding a
	// slot of scope gets it again. user is recorded for erasure.
	ClaimSlot(ctx context.Context, tenant, scope, user, owner string, n int64) (slot int64, ok bool, err error)
	// ReleaseSlot frees owner's slot of scope, if any.
	ReleaseSlot(ctx context.Context, tenant, scope, owner string) error
	// CountSlots counts the held slots of scope.
	CountSlots(ctx context.Context, tenant, scope string) (int64, error)
	// InsertRedemption stores r unless the user has a redemption with its
	// idempotency key, which it returns with inserted=false.
	InsertRedemption(ctx context.Context, r Redemption) (stored Redemption, inserted bool, err error)
	// SaveRedemption replaces a stored redemption.
	SaveRedemption(ctx context.Context, r Redemption) error
	// GetRedemption returns a redemption or errs.ErrNotFound.
	GetRedemption(ctx context.Context, tenant, id string) (Redemption, error)
	// UserRedemptions lists a user's redemptions, newest first.
	UserRedemptions(ctx context.Context, tenant, user string) ([]Redemption, error)
	// EraseRewardUser deletes the user's redemptions and limit slots.
	EraseRewardUser(ctx context.Context, tenant, user string) error
}

// validate checks a reward definition.
func (r Reward) validate() error {
	bad := func(field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-reward", format, args...).OnField("body." + field)
	}
	switch {
	case r.Name == "" || len(r.Name) > 200:
		return bad("name", "name must have 1 to 200 characters")
	case r.Cost < 1 || r.Cost > 1_000_000_000:
		return bad("cost", "cost must be within 1..1000000000 points")
	case r.Stock != nil && (*r.Stock < 0 || *r.Stock > 10_000_000):
		return bad("stock", "stock must be within 0..10000000")
	case r.UserLimit < 0:
		return bad("user_limit", "user_limit must not be negative")
	case r.StartsAt != nil && r.EndsAt != nil && !r.EndsAt.After(*r.StartsAt):
		return bad("ends_at", "ends_at must be after starts_at")
	}
	switch r.LimitPeriod {
	case "", PeriodLifetime, PeriodDay, PeriodWeek, PeriodMonth:
	default:
		return bad("limit_period", "limit_period must be lifetime, day, week or month")
	}
	switch r.Kind {
	case KindGenerated, KindPhysical:
	case KindContent:
		if r.Content == "" {
			return bad("content", "a content reward names its content")
		}
	case KindCoupon:
		if len(r.Codes) == 0 {
			return bad("codes", "a coupon reward needs codes")
		}
	default:
		return bad("kind", "kind must be coupon, generated, physical or content")
	}
	return nil
}

// periodOf names the limit period of p holding at, in at's location
// (the tenant's time zone): calendar days, ISO weeks, months.
func periodOf(p string, at time.Time) string {
	switch p {
	case PeriodDay:
		return at.Format("2006-01-02")
	case PeriodWeek:
		y, w := at.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case PeriodMonth:
		return at.Format("2006-01")
	}
	return "all"
}
