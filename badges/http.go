package badges

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the badge API.
func Routes(api huma.API, s *Service) {
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{"badges"}}
	}
	create := op("create-badge", http.MethodPost, "/v1/badges", "Create a draft badge (manager)",
		"The criterion is a rule over the event stream, system events included, so \"5 approved reviews\" (ugc.approved), "+
			"\"3 challenges this month\" (challenge.completed, monthly window) or \"1,000 lifetime points\" (sum of points.earned amount) need no special code. "+
			"Tiers are levels of the rule's single goal, each awarded once reached. A limited edition goes to the first limit earners of each tier only, numbered. "+
			"valid_for makes awards expire; a badge with a recurring window is earned afresh each period, any other one once.")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.Managers, func(ctx context.Context, in *struct{ Body Definition }) (*badgeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, op("list-badges", http.MethodGet, "/v1/badges", "List badges",
		"Managers see every badge; players see published badges that are not secret (hidden). A page may hold fewer than limit badges; follow next_cursor until it is absent."), auth.Readers,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			manager := auth.Managers.Admits(p)
			status := in.Status
			if !manager {
				status = Published
			}
			bs, err := s.List(ctx, p.Tenant, status, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &listOutput{}
			bs, out.Body.NextCursor = httpx.Page(bs, in.Limit, func(b Badge) string { return b.ID })
			out.Body.Badges = []Badge{}
			for _, b := range bs {
				if manager || !b.Hidden {
					out.Body.Badges = append(out.Body.Badges, b)
				}
			}
			return out, nil
		})
	auth.Register(api, op("get-badge", http.MethodGet, "/v1/badges/{id}", "Get a badge",
		"Players get 404 for drafts and for secret badges they never held."), auth.Readers,
		func(ctx context.Context, in *idInput) (*badgeOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			b, err := s.Get(ctx, p.Tenant, in.ID)
			if err != nil || auth.Managers.Admits(p) {
				return one(b, err)
			}
			if ok, err := s.seenBy(ctx, p.Tenant, b, p.Subject); err != nil {
				return nil, err
			} else if !ok {
				return nil, notFound(in.ID) // players must not learn of drafts or secrets
			}
			return one(b, nil)
		})
	auth.Register(api, op("update-badge", http.MethodPatch, "/v1/badges/{id}", "Edit a badge (manager)",
		"A draft may change freely. A published or archived badge may change only name, description, image_url and hidden "+
			"(409 badge-published otherwise), so awards players hold are never re-judged; to change its rule, tiers, limit or valid_for, "+
			"archive it and publish a new one."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body Patch
		}) (*badgeOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
		})
	for _, t := range []struct {
		id, path, summary, desc string
		do                      func(context.Context, string, string) (Badge, error)
	}{
		{"publish-badge", "/v1/badges/{id}/publish", "Publish a draft badge (manager)", "From then on events award it.", s.Publish},
		{"archive-badge", "/v1/badges/{id}/archive", "Archive a badge (manager)", "It is no longer awarded; awards made stay on their holders' showcases.", s.Archive},
	} {
		auth.Register(api, op(t.id, http.MethodPost, t.path, t.summary, t.desc), auth.Managers,
			func(ctx context.Context, in *idInput) (*badgeOutput, error) {
				p, err := auth.Require(ctx)
				if err != nil {
					return nil, err
				}
				return one(t.do(ctx, p.Tenant, in.ID))
			})
	}
	auth.Register(api, op("list-my-badges", http.MethodGet, "/v1/me/badges", "My badges, with progress",
		"Every published badge, with my awards of it (tier, awarded_at, expires_at, edition; expired ones flagged), the next tier and my progress towards it in the current period, "+
			"when that period resets and, for limited editions, how many are left. Secret badges appear once earned; archived ones only if I hold them."), auth.People,
		func(ctx context.Context, _ *struct{}) (*myOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			bs, err := s.ForPlayer(ctx, p.Tenant, p.Subject)
			if err != nil {
				return nil, err
			}
			out := &myOutput{}
			out.Body.Badges = bs
			return out, nil
		})
	auth.Register(api, op("get-user-badges", http.MethodGet, "/v1/users/{id}/badges", "A user's badge showcase",
		"The badges the user holds now (expired awards left out), one entry per badge at its highest tier, newest first. Public within the tenant: no progress and no secret the user has not earned."), auth.Readers,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"128" format:"user-id" doc:"User id."`
		}) (*showcaseOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			bs, err := s.Showcase(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			out := &showcaseOutput{}
			out.Body.Badges = bs
			return out, nil
		})
}

func one(b Badge, err error) (*badgeOutput, error) {
	if err != nil {
		return nil, err
	}
	return &badgeOutput{Body: b}, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type badgeOutput struct{ Body Badge }

type listInput struct {
	Status Status `query:"status" enum:"draft,published,archived" doc:"Filter by status (managers)."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type listOutput struct {
	Body struct {
		Badges     []Badge `json:"badges"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}
}

type myOutput struct {
	Body struct {
		Badges []PlayerBadge `json:"badges"`
	}
}

type showcaseOutput struct {
	Body struct {
		Badges []ShowcaseBadge `json:"badges"`
	}
}
