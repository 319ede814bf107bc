package challenges

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// Routes registers the challenge API.
func Routes(api huma.API, s *Service) {
	sec := []map[string][]string{{"bearer": {}}}
	tags := []string{"challenges"}
	huma.Register(api, huma.Operation{
		OperationID: "create-challenge", Method: http.MethodPost, Path: "/v1/challenges",
		Summary: "Create a draft challenge (manager)", Tags: tags, Security: sec, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct{ Body Definition }) (*challengeOutput, error) {
		p, err := auth.Require(ctx, auth.Manager)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-challenges", Method: http.MethodGet, Path: "/v1/challenges",
		Summary: "List challenges", Tags: tags, Security: sec,
		Description: "Managers see every challenge; players see published ones.",
	}, func(ctx context.Context, in *challengeListInput) (*challengeListOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		status := in.Status
		if !p.Has(auth.Manager) {
			status = Published
		}
		cs, err := s.List(ctx, p.Tenant, status, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &challengeListOutput{}
		if len(cs) > in.Limit {
			cs = cs[:in.Limit]
			out.Body.NextCursor = cs[len(cs)-1].ID
		}
		out.Body.Challenges = append([]Challenge{}, cs...)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-challenge", Method: http.MethodGet, Path: "/v1/challenges/{id}",
		Summary: "Get a challenge", Tags: tags, Security: sec,
	}, func(ctx context.Context, in *idInput) (*challengeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.Get(ctx, p.Tenant, in.ID)
		if err == nil && c.Status == Draft && !p.Has(auth.Manager) {
			return nil, notFound(in.ID) // players must not learn of drafts
		}
		return one(c, err)
	})
	huma.Register(api, huma.Operation{
		OperationID: "update-challenge", Method: http.MethodPatch, Path: "/v1/challenges/{id}",
		Summary: "Edit a challenge (manager)", Tags: tags, Security: sec,
		Description: "A draft may change freely. A published challenge may change only name, description and ends_at " +
			"(409 challenge-published otherwise), so progress players already made is never re-judged; " +
			"to change its rules, archive it and publish a new one. Archived challenges cannot change.",
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body Patch
	}) (*challengeOutput, error) {
		p, err := auth.Require(ctx, auth.Manager)
		if err != nil {
			return nil, err
		}
		return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
	})
	for _, t := range []struct {
		op, path, summary string
		do                func(context.Context, string, string) (Challenge, error)
	}{
		{"publish-challenge", "/v1/challenges/{id}/publish", "Publish a draft (manager)", s.Publish},
		{"archive-challenge", "/v1/challenges/{id}/archive", "Archive a challenge (manager)", s.Archive},
	} {
		huma.Register(api, huma.Operation{
			OperationID: t.op, Method: http.MethodPost, Path: t.path, Summary: t.summary, Tags: tags, Security: sec,
		}, func(ctx context.Context, in *idInput) (*challengeOutput, error) {
			p, err := auth.Require(ctx, auth.Manager)
			if err != nil {
				return nil, err
			}
			return one(t.do(ctx, p.Tenant, in.ID))
		})
	}
	huma.Register(api, huma.Operation{
		OperationID: "list-my-challenges", Method: http.MethodGet, Path: "/v1/me/challenges",
		Summary: "My challenges with progress", Tags: tags, Security: sec,
	}, func(ctx context.Context, _ *struct{}) (*myChallengesOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		cs, err := s.ForPlayer(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		out := &myChallengesOutput{}
		out.Body.Challenges = cs
		return out, nil
	})
}

func one(c Challenge, err error) (*challengeOutput, error) {
	if err != nil {
		return nil, err
	}
	return &challengeOutput{Body: c}, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type challengeOutput struct{ Body Challenge }

type challengeListInput struct {
	Status Status `query:"status" enum:"draft,published,archived" doc:"Filter by status (managers)."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type challengeListOutput struct {
	Body struct {
		Challenges []Challenge `json:"challenges"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}
}

type myChallengesOutput struct {
	Body struct {
		Challenges []PlayerChallenge `json:"challenges"`
	}
}
