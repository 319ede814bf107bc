package points

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the points API.
func Routes(api huma.API, s *Service) {
	policyRoutes(api, s)
	auth.Register(api, huma.Operation{
		OperationID: "get-my-wallet", Method: http.MethodGet, Path: "/v1/me/wallet",
		Summary: "My wallet", Tags: []string{"points"},
		Description: "Points available now (balance), pending, spent and expired, lifetime earnings, and what expires in the next 90 days; " +
			"the tier, the next tier and what it still needs, and the next reward within reach with the points still short. " +
			"Read from the wallet's folded totals: its cost does not grow with the user's history.",
	}, auth.People, func(ctx context.Context, _ *struct{}) (*walletOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		w, err := s.Programme(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		return &walletOutput{Body: w}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-my-ledger", Method: http.MethodGet, Path: "/v1/me/ledger",
		Summary: "My ledger, newest first", Tags: []string{"points"},
	}, auth.People, func(ctx context.Context, in *ledgerInput) (*ledgerOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		es, err := s.Ledger(ctx, p.Tenant, p.Subject, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &ledgerOutput{}
		out.Body.Entries, out.Body.NextCursor = httpx.Page(es, in.Limit, func(e Entry) string { return e.ID })
		return out, nil
	})
}

type walletOutput struct{ Body Wallet }

type policyBody struct{ Body Policy }

// policyRoutes registers the tenant's lot policy.
func policyRoutes(api huma.API, s *Service) {
	auth.Register(api, huma.Operation{
		OperationID: "get-points-policy", Method: http.MethodGet, Path: "/v1/points/policy",
		Summary: "The tenant's points policy (manager)", Tags: []string{"points"},
		Description: "How long new points stay pending and when they expire. A tenant that set none has points available at once that never expire.",
	}, auth.Managers, func(ctx context.Context, _ *struct{}) (*policyBody, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		pol, err := s.Policy(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		return &policyBody{Body: pol}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-points-policy", Method: http.MethodPut, Path: "/v1/points/policy",
		Summary: "Set the tenant's points policy (manager)", Tags: []string{"points"},
		Description: "Applies to points credited from now on; lots already earned keep their dates. " +
			"The expiry job (hourly, or `server expire`) expires lots once their time comes and emits points.expired; " +
			"points.expiring is emitted notice_days ahead.",
	}, auth.Managers, func(ctx context.Context, in *policyBody) (*policyBody, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		pol, err := s.PutPolicy(ctx, p.Tenant, in.Body)
		if err != nil {
			return nil, err
		}
		return &policyBody{Body: pol}, nil
	})
}

type ledgerInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type ledgerOutput struct {
	Body struct {
		Entries    []Entry `json:"entries"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}
}
