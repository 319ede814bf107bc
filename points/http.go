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
	auth.Register(api, huma.Operation{
		OperationID: "get-my-wallet", Method: http.MethodGet, Path: "/v1/me/wallet",
		Summary: "My wallet", Tags: []string{"points"},
	}, auth.People, func(ctx context.Context, _ *struct{}) (*walletOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		w, err := s.Wallet(ctx, p.Tenant, p.Subject)
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
