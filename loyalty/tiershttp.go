package loyalty

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/loyalty/tier"
)

// TierRoutes registers the tier API.
func TierRoutes(api huma.API, s *Service) {
	tags := []string{"loyalty"}
	auth.Register(api, huma.Operation{
		OperationID: "get-tiers", Method: http.MethodGet, Path: "/v1/tiers",
		Summary: "The tenant's tier programme", Tags: tags,
		Description: "version is what PUT takes back; an empty tiers list means the tenant has none.",
	}, auth.Readers, func(ctx context.Context, _ *struct{}) (*programmeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		prog, err := s.Programme(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		return &programmeOutput{Body: prog}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-tiers", Method: http.MethodPut, Path: "/v1/tiers",
		Summary: "Define the tier programme (manager)", Tags: tags,
		Description: "Ordered thresholds on lifetime points or points of the last 12 months, with benefits. A user moves up " +
			"at once when a credit takes them over a threshold (by as many tiers as it reaches); down only at a review: every year " +
			"on a calendar date, or on the anniversary of reaching their tier, at local midnight of time_zone, and by one tier per " +
			"review. With grace_days, a user below their tier at a review first gets a tier.grace notice (push and event) and keeps " +
			"it until the grace ends. Every change emits tier.changed (rules, webhooks) and pushes tier.changed, and sets the user's " +
			"tier attribute, which challenges' eligibility and earn rules' tier_multipliers read. version must be the one last " +
			"read (0 at first): 409 otherwise.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		Body struct {
			Version int64 `json:"version" minimum:"0"`
			tier.Programme
		}
	}) (*programmeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		prog, err := s.PutProgramme(ctx, p.Tenant, in.Body.Version, in.Body.Programme)
		if err != nil {
			return nil, err
		}
		return &programmeOutput{Body: prog}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-my-tier", Method: http.MethodGet, Path: "/v1/me/tier",
		Summary: "My tier, and how far the next one is", Tags: tags,
	}, auth.People, func(ctx context.Context, _ *struct{}) (*tierViewOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.View(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		return &tierViewOutput{Body: v}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-user-tier", Method: http.MethodGet, Path: "/v1/users/{id}/tier",
		Summary: "A user's tier (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *userInput) (*tierViewOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.View(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &tierViewOutput{Body: v}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "assign-user-tier", Method: http.MethodPut, Path: "/v1/users/{id}/tier",
		Summary: "Assign a user's tier by hand (manager, audited)", Tags: tags,
		Description: "Sets the tier at once (tier.changed follows as for any change). locked keeps it there: upgrades and reviews " +
			"leave a locked tier alone until it is assigned again, unlocked.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"128" format:"user-id" doc:"User id."`
		Body struct {
			Tier   string `json:"tier" minLength:"1" maxLength:"64"`
			Locked bool   `json:"locked,omitempty" doc:"Keep the tier out of automatic upgrades and reviews."`
		}
	}) (*tierStateOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		st, err := s.Assign(ctx, p.Tenant, in.ID, in.Body.Tier, in.Body.Locked)
		if err != nil {
			return nil, err
		}
		return &tierStateOutput{Body: st}, nil
	})
}

type userInput struct {
	ID string `path:"id" maxLength:"128" format:"user-id" doc:"User id."`
}

type programmeOutput struct{ Body Programme }

type tierViewOutput struct{ Body TierView }

type tierStateOutput struct{ Body TierState }
