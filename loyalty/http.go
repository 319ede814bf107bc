package loyalty

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the earn rule API (managers and manage keys).
func Routes(api huma.API, s *Service) {
	tags := []string{"loyalty"}
	auth.Register(api, huma.Operation{
		OperationID: "create-earn-rule", Method: http.MethodPost, Path: "/v1/earn-rules",
		Summary: "Create an earn rule (manager)", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "An earn rule pays points from events, beside challenges: kind rate (rate points per unit of a numeric prop, " +
			"e.g. 1 per EUR of purchase.amount: the amount is read to the cent and the payout rounded down), fixed (points per event) " +
			"or nth (points on every Nth matching event: a punch card). filters are the challenge rule language's. caps bound what the rule " +
			"pays a user per day, ISO week or month of time_zone; tier_multipliers (by the user's tier) and campaigns (between local times, " +
			"on some weekdays) multiply it, combined by stacking: highest (default) or product. Each payout is one ledger entry keyed " +
			"earn:{rule}:{event}: a replayed or duplicated event never pays twice. A type the tenant's catalogue lacks is 422.",
	}, auth.Managers, func(ctx context.Context, in *struct{ Body Definition }) (*ruleOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, huma.Operation{
		OperationID: "list-earn-rules", Method: http.MethodGet, Path: "/v1/earn-rules",
		Summary: "List earn rules (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
		Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	}) (*ruleListOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := s.List(ctx, p.Tenant, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &ruleListOutput{}
		out.Body.Rules, out.Body.NextCursor = httpx.Page(rs, in.Limit, func(r EarnRule) string { return r.ID })
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-earn-rule", Method: http.MethodGet, Path: "/v1/earn-rules/{id}",
		Summary: "Get an earn rule (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *idInput) (*ruleOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Get(ctx, p.Tenant, in.ID))
	})
	auth.Register(api, huma.Operation{
		OperationID: "update-earn-rule", Method: http.MethodPatch, Path: "/v1/earn-rules/{id}",
		Summary: "Edit, pause or archive an earn rule (manager)", Tags: tags,
		Description: "Changes apply from the next event on; points already paid stay, and a punch card's count and the caps' " +
			"tallies carry on. A paused rule pays nothing until it is active again; an archived one cannot change (409).",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body Patch
	}) (*ruleOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
	})
	auth.Register(api, huma.Operation{
		OperationID: "reverse-event-earnings", Method: http.MethodPost, Path: "/v1/events/{id}/reverse-earnings",
		Summary: "Take back what an event paid through earn rules (manager)", Tags: tags,
		Description: "For a refunded purchase when the back end does not send purchase.refunded: every earn rule payout of " +
			"the event is reversed, exactly once (repeats take nothing more). Points already spent are taken from the user's " +
			"other available points; what they cannot cover is recorded, never a negative balance. Boards that counted the " +
			"points are lowered. An event for which no earn rule paid anything (or none of the tenant's) is 404.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64" doc:"The event_id of the purchase."`
	}) (*reversalOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		rev, err := s.ReverseEvent(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		if len(rev.Changes) == 0 {
			return nil, errs.New(errs.NotFound, "no-earn-payouts", "no earn rule paid anything for event %q", in.ID)
		}
		return &reversalOutput{Body: rev}, nil
	})
}

type reversalOutput struct{ Body Reversal }

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type ruleOutput struct{ Body EarnRule }

type ruleListOutput struct {
	Body struct {
		Rules      []EarnRule `json:"rules"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}
}

func one(r EarnRule, err error) (*ruleOutput, error) {
	if err != nil {
		return nil, err
	}
	return &ruleOutput{Body: r}, nil
}
