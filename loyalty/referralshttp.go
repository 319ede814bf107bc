package loyalty

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// ReferralRoutes registers the referral API.
func ReferralRoutes(api huma.API, s *Service) {
	tags := []string{"loyalty"}
	auth.Register(api, huma.Operation{
		OperationID: "get-referral-programme", Method: http.MethodGet, Path: "/v1/referral-programme",
		Summary: "The tenant's referral terms", Tags: tags,
	}, auth.Readers, func(ctx context.Context, _ *struct{}) (*referralTermsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		t, err := s.Referrals(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		return &referralTermsOutput{Body: t}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-referral-programme", Method: http.MethodPut, Path: "/v1/referral-programme",
		Summary: "Set the referral terms (manager)", Tags: tags,
		Description: "Both sides are paid when the referred user sends their first qualifying_event after claiming a code " +
			"(ledger keys referral:{referee}:referee and :referrer, so once ever), and referral.completed is emitted for the referrer " +
			"(badges and webhooks). monthly_cap bounds the referrals paid to one referrer per UTC month. version must be the one last read (0 at first).",
	}, auth.Managers, func(ctx context.Context, in *struct{ Body ReferralProgramme }) (*referralTermsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		t, err := s.PutReferrals(ctx, p.Tenant, in.Body.Version, in.Body)
		if err != nil {
			return nil, err
		}
		return &referralTermsOutput{Body: t}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-my-referral", Method: http.MethodGet, Path: "/v1/me/referral",
		Summary: "My referral code, and who referred me", Tags: tags,
	}, auth.People, func(ctx context.Context, _ *struct{}) (*myReferralOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		code, err := s.Code(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		out := &myReferralOutput{}
		out.Body.Code = code
		c, found, err := s.Store.ClaimOf(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		if found {
			out.Body.Claim = &c
		}
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "claim-referral", Method: http.MethodPost, Path: "/v1/referrals/claim",
		Summary: "Claim a referral code, once", Tags: tags,
		Description: "Makes the caller the referral of the code's owner. Their own code (422 self-referral), a second claim " +
			"(409 already-referred) and a claim closing a cycle (422 referral-cycle) are refused; an unknown code is 404.",
	}, auth.People, func(ctx context.Context, in *struct {
		Body struct {
			Code string `json:"code" minLength:"1" maxLength:"32"`
		}
	}) (*claimOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.ClaimCode(ctx, p.Tenant, p.Subject, in.Body.Code)
		if err != nil {
			return nil, err
		}
		return &claimOutput{Body: c}, nil
	})
}

type referralTermsOutput struct{ Body ReferralProgramme }

type myReferralOutput struct {
	Body struct {
		Code  string `json:"code" doc:"Share it: a new user claims it with POST /v1/referrals/claim."`
		Claim *Claim `json:"referred_by,omitempty" doc:"The code the caller claimed, and whether it completed."`
	}
}

type claimOutput struct{ Body Claim }
