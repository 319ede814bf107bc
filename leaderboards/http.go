package leaderboards

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
)

// Routes registers the leaderboard API.
func Routes(api huma.API, s *Service) {
	sec := []map[string][]string{{"bearer": {}}}
	tags := []string{"leaderboards"}
	huma.Register(api, huma.Operation{
		OperationID: "create-leaderboard", Method: http.MethodPost, Path: "/v1/leaderboards",
		Summary: "Create a leaderboard (manager)", Tags: tags, Security: sec, DefaultStatus: http.StatusCreated,
		Description: "A points board ranks points earned in its window. Points earned before the board existed count: the board is filled from the ledger when created.",
	}, func(ctx context.Context, in *struct{ Body CreateInput }) (*boardOutput, error) {
		p, err := auth.Require(ctx, auth.Manager)
		if err != nil {
			return nil, err
		}
		b, err := s.Create(ctx, p.Tenant, in.Body)
		if err != nil {
			return nil, err
		}
		return &boardOutput{Body: b}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-leaderboards", Method: http.MethodGet, Path: "/v1/leaderboards",
		Summary: "List leaderboards", Tags: tags, Security: sec,
	}, func(ctx context.Context, _ *struct{}) (*boardListOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		bs, err := s.List(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		out := &boardListOutput{}
		out.Body.Leaderboards = append([]Board{}, bs...)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-leaderboard-top", Method: http.MethodGet, Path: "/v1/leaderboards/{id}/top",
		Summary: "Top of a leaderboard", Tags: tags, Security: sec,
		Description: "Ranks are by score, highest first; equal scores are ordered by user id, the same way on every read.",
	}, func(ctx context.Context, in *boardTopInput) (*boardPageOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		offset := 0
		if in.Cursor != "" {
			if offset, err = strconv.Atoi(in.Cursor); err != nil || offset < 0 || offset > 1_000_000_000 {
				return nil, errs.New(errs.Invalid, "bad-cursor", "cursor %q is not one this API returned", in.Cursor).OnField("cursor")
			}
		}
		pg, err := s.Top(ctx, p.Tenant, in.ID, in.Period, offset, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &boardPageOutput{}
		out.Body.Page = pg
		if next := int64(offset + in.Limit); next < pg.Total {
			out.Body.NextCursor = strconv.FormatInt(next, 10)
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-leaderboard-me", Method: http.MethodGet, Path: "/v1/leaderboards/{id}/me",
		Summary: "My rank, with neighbours", Tags: tags, Security: sec,
	}, func(ctx context.Context, in *boardMeInput) (*boardMeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		pg, me, err := s.Around(ctx, p.Tenant, in.ID, in.Period, p.Subject, in.Around)
		if err != nil {
			return nil, err
		}
		out := &boardMeOutput{}
		out.Body.Page, out.Body.Me = pg, me
		return out, nil
	})
}

type boardOutput struct{ Body Board }

type boardListOutput struct {
	Body struct {
		Leaderboards []Board `json:"leaderboards"`
	}
}

type boardTopInput struct {
	ID     string `path:"id" maxLength:"64"`
	Period string `query:"window" maxLength:"16" doc:"Period to read, e.g. 2026-11-23, 2026-W48, 2026-11; default the current one."`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"10"`
	Cursor string `query:"cursor" maxLength:"12" doc:"next_cursor of the previous page"`
}

type boardPageOutput struct {
	Body struct {
		Page
		NextCursor string `json:"next_cursor,omitempty"`
	}
}

type boardMeInput struct {
	ID     string `path:"id" maxLength:"64"`
	Period string `query:"window" maxLength:"16" doc:"Period to read; default the current one."`
	Around int    `query:"around" minimum:"0" maximum:"50" default:"5" doc:"Neighbours to return on each side."`
}

type boardMeOutput struct {
	Body struct {
		Page
		Me *Entry `json:"me" doc:"The caller's entry; null when not ranked yet."`
	}
}
