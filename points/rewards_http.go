package points

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/questline/questline/auth"
)

// RewardInput is a reward as a manager writes it; on PATCH, absent
// fields keep their value.
type RewardInput struct {
	Name        *string    `json:"name,omitempty" maxLength:"200"`
	Description *string    `json:"description,omitempty" maxLength:"2000"`
	Kind        *string    `json:"kind,omitempty" enum:"coupon,generated,physical,content" doc:"Only on creation."`
	Cost        *int64     `json:"cost,omitempty" doc:"Points a redemption costs."`
	Stock       *int64     `json:"stock,omitempty" doc:"Absent on creation: unlimited. A coupon reward's stock is its number of codes."`
	Unlimited   bool       `json:"unlimited,omitempty" doc:"On PATCH: remove the stock limit."`
	UserLimit   *int64     `json:"user_limit,omitempty" doc:"Redemptions per user per limit_period; 0 = no limit."`
	LimitPeriod *string    `json:"limit_period,omitempty" enum:"lifetime,day,week,month" doc:"Calendar periods in the time zone of the tenant's points policy (UTC without one)."`
	Tiers       []string   `json:"tiers,omitempty" maxItems:"20" doc:"Only users with one of these tiers (profile attributes) may redeem (VIP rewards); a tier programme's rewards benefit also opens a reward to that tier and those above."`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
	Content     *string    `json:"content,omitempty" maxLength:"200" doc:"The content a content reward unlocks."`
	Codes       []string   `json:"codes,omitempty" maxItems:"100000" doc:"A coupon reward's codes, handed out one per redemption; replaces the pool on PATCH."`
	Active      *bool      `json:"active,omitempty" doc:"Only active rewards can be redeemed; default true."`
}

func (in RewardInput) apply(r *Reward) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.Name, in.Name)
	set(&r.Description, in.Description)
	set(&r.LimitPeriod, in.LimitPeriod)
	set(&r.Content, in.Content)
	if in.Cost != nil {
		r.Cost = *in.Cost
	}
	if in.Stock != nil {
		r.Stock = in.Stock
	}
	if in.Unlimited {
		r.Stock = nil
	}
	if in.UserLimit != nil {
		r.UserLimit = *in.UserLimit
	}
	if in.Tiers != nil {
		r.Tiers = in.Tiers
	}
	if in.StartsAt != nil {
		r.StartsAt = in.StartsAt
	}
	if in.EndsAt != nil {
		r.EndsAt = in.EndsAt
	}
	if in.Codes != nil {
		r.Codes = in.Codes
	}
	if in.Active != nil {
		r.Active = *in.Active
	}
}

// RewardView is a reward with the stock left.
type RewardView struct {
	Reward
	StockLeft *int64 `json:"stock_left,omitempty" doc:"Absent: unlimited."`
	// VIP rewards are shown to everyone, marked, so the app can say what
	// a higher tier would open.
	AccessTiers []string `json:"access_tiers,omitempty" doc:"The tiers that may redeem it: its own tiers and those whose rewards benefit names it (that tier and above); absent = everyone."`
	Locked      bool     `json:"locked,omitempty" doc:"For a player: the reward is reserved to tiers they do not hold; redeeming it answers 403 tier-required."`
}

type rewardOutput struct{ Body RewardView }

type redemptionOutput struct{ Body Redemption }

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

// RewardRoutes registers the rewards catalogue and redemptions.
func RewardRoutes(api huma.API, s *Service) {
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{"rewards"}}
	}
	create := op("create-reward", http.MethodPost, "/v1/rewards", "Add a reward to the catalogue (manager)",
		"Cost in points; stock or unlimited; a per-user limit per period; tiers for VIP rewards; an availability window; "+
			"a kind: coupon (codes from the uploaded pool), generated (a code made per redemption), physical (fulfilled by a manager) or content (unlocked).")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.Managers, func(ctx context.Context, in *struct{ Body RewardInput }) (*rewardOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		r := Reward{Active: true}
		if in.Body.Kind != nil {
			r.Kind = *in.Body.Kind
		}
		in.Body.apply(&r)
		r, err = s.CreateReward(ctx, p.Tenant, r)
		return s.view(ctx, r, err)
	})
	auth.Register(api, op("list-rewards", http.MethodGet, "/v1/rewards", "The rewards catalogue",
		"Managers see every reward; players the active ones. Each comes with the stock left and the tiers that may redeem it; "+
			"a player sees VIP rewards of other tiers too, marked locked (redeeming one answers 403 tier-required)."), auth.Readers,
		func(ctx context.Context, _ *struct{}) (*struct {
			Body struct {
				Rewards []RewardView `json:"rewards"`
			}
		}, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			rs, err := s.Rewards(ctx, p.Tenant)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Rewards []RewardView `json:"rewards"`
				}
			}{}
			out.Body.Rewards = []RewardView{}
			a, err := s.access(ctx, p.Tenant, p.Subject)
			if err != nil {
				return nil, err
			}
			manager := auth.Managers.Admits(p)
			for _, r := range rs {
				if !r.Active && !manager {
					continue
				}
				v, err := s.view(ctx, r, nil)
				if err != nil {
					return nil, err
				}
				v.Body.mark(a, manager)
				out.Body.Rewards = append(out.Body.Rewards, v.Body)
			}
			return out, nil
		})
	auth.Register(api, op("get-reward", http.MethodGet, "/v1/rewards/{id}", "One reward", ""), auth.Readers,
		func(ctx context.Context, in *idInput) (*rewardOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			r, err := s.Reward(ctx, p.Tenant, in.ID)
			manager := auth.Managers.Admits(p)
			if err == nil && !r.Active && !manager {
				err = rewardNotFound(in.ID)
			}
			out, err := s.view(ctx, r, err)
			if err != nil {
				return nil, err
			}
			a, err := s.access(ctx, p.Tenant, p.Subject)
			if err != nil {
				return nil, err
			}
			out.Body.mark(a, manager)
			return out, nil
		})
	auth.Register(api, op("update-reward", http.MethodPatch, "/v1/rewards/{id}", "Change a reward (manager)",
		"Absent fields keep their value; the kind cannot change. Redemptions made stay as they were."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body RewardInput
		}) (*rewardOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			r, err := s.UpdateReward(ctx, p.Tenant, in.ID, in.Body.apply)
			return s.view(ctx, r, err)
		})
	redeem := op("redeem-reward", http.MethodPost, "/v1/rewards/{id}/redeem", "Redeem a reward",
		"Pays the cost from the soonest-expiring points and returns the redemption with its code. Never overdraws a balance, "+
			"never oversells stock or goes past the user's limit, under any concurrency. The Idempotency-Key makes a retry return "+
			"the first answer: a completed redemption, or the same refusal (409 insufficient-points, out-of-stock, redemption-limit, reward-unavailable "+
			"outside its window; 403 tier-required; 404 reward-not-found, as for a missing id, for a reward out of the catalogue).")
	auth.Register(api, redeem, auth.People, func(ctx context.Context, in *struct {
		ID             string `path:"id" maxLength:"64"`
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Send one: without it every call is a new redemption."`
	}) (*redemptionOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		key := in.IdempotencyKey
		if key == "" {
			key = "none:" + uuid.NewString()
		}
		red, err := s.Redeem(ctx, p.Tenant, p.Subject, in.ID, key)
		if err != nil {
			return nil, err
		}
		return &redemptionOutput{Body: red}, nil
	})
	auth.Register(api, op("list-my-redemptions", http.MethodGet, "/v1/me/redemptions", "My redemptions, newest first",
		"The latest 100."), auth.People,
		func(ctx context.Context, _ *struct{}) (*struct {
			Body struct {
				Redemptions []Redemption `json:"redemptions"`
			}
		}, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			rs, err := s.Redemptions(ctx, p.Tenant, p.Subject)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Redemptions []Redemption `json:"redemptions"`
				}
			}{}
			out.Body.Redemptions = append([]Redemption{}, rs...)
			return out, nil
		})
	for _, a := range []struct {
		id, path, summary, desc string
		fn                      func(context.Context, string, string) (Redemption, error)
	}{
		{"fulfil-redemption", "/v1/redemptions/{id}/fulfil", "Mark a redemption fulfilled (manager)",
			"For a shipped physical item, say. Repeating it changes nothing.", s.Fulfil},
		{"cancel-redemption", "/v1/redemptions/{id}/cancel", "Cancel a redemption (manager)",
			"Refunds its points to the lots they came from (new lots, under the tenant's policy, for lots expired since) and restocks, " +
				"except a coupon reward: its code was shown to the customer, so it never goes back into the pool (add codes to restock). Repeating it changes nothing.", s.Cancel},
	} {
		auth.Register(api, op(a.id, http.MethodPost, a.path, a.summary, a.desc), auth.Managers,
			func(ctx context.Context, in *idInput) (*redemptionOutput, error) {
				p, err := auth.Require(ctx)
				if err != nil {
					return nil, err
				}
				red, err := a.fn(ctx, p.Tenant, in.ID)
				if err != nil {
					return nil, err
				}
				return &redemptionOutput{Body: red}, nil
			})
	}
}

// mark says which tiers may redeem v and, for a player, whether they may.
func (v *RewardView) mark(a Access, manager bool) {
	v.AccessTiers = a.AccessTiers(v.Reward)
	v.Locked = !manager && !a.Allows(v.Reward)
}

func (s *Service) view(ctx context.Context, r Reward, err error) (*rewardOutput, error) {
	if err != nil {
		return nil, err
	}
	left, err := s.StockLeft(ctx, r)
	if err != nil {
		return nil, err
	}
	return &rewardOutput{Body: RewardView{Reward: r, StockLeft: left}}, nil
}
