package challenges

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the challenge API.
func Routes(api huma.API, s *Service) {
	tags := []string{"challenges"}
	auth.Register(api, huma.Operation{
		OperationID: "create-challenge", Method: http.MethodPost, Path: "/v1/challenges",
		Summary: "Create a draft challenge (manager)", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "A challenge is a rule (goals over the event stream: count, sum of a prop, distinct values of a prop, with filters; " +
			"several goals, optionally ordered as steps; a window with start/end, a rolling span or a daily/weekly/monthly recurrence " +
			"in a time zone) and a reward (points, a badge, unlockable content). Events count by occurred_at: one arriving late still " +
			"counts for its period if it arrives within 24 h of the period's end. A bad rule answers 422 naming the field, " +
			"e.g. body.rule.goals[0].target.",
	}, auth.Managers, func(ctx context.Context, in *struct{ Body Definition }) (*challengeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, huma.Operation{
		OperationID: "list-challenges", Method: http.MethodGet, Path: "/v1/challenges",
		Summary: "List challenges", Tags: tags,
		Description: "Managers see every challenge; players see published ones.",
	}, auth.Readers, func(ctx context.Context, in *challengeListInput) (*challengeListOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		status := in.Status
		if !auth.Managers.Admits(p) {
			status = Published
		}
		cs, err := s.List(ctx, p.Tenant, status, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &challengeListOutput{}
		out.Body.Challenges, out.Body.NextCursor = httpx.Page(cs, in.Limit, func(c Challenge) string { return c.ID })
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-challenge", Method: http.MethodGet, Path: "/v1/challenges/{id}",
		Summary: "Get a challenge", Tags: tags,
	}, auth.Readers, func(ctx context.Context, in *idInput) (*challengeOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.Get(ctx, p.Tenant, in.ID)
		if err == nil && c.Status == Draft && !auth.Managers.Admits(p) {
			return nil, notFound(in.ID) // players must not learn of drafts
		}
		return one(c, err)
	})
	auth.Register(api, huma.Operation{
		OperationID: "update-challenge", Method: http.MethodPatch, Path: "/v1/challenges/{id}",
		Summary: "Edit a challenge (manager)", Tags: tags,
		Description: "A draft may change freely. A published challenge may change its name, description, reward, eligibility, " +
			"max_completions and ends_at; these apply from the next event on and never re-judge progress already made " +
			"(a new reward pays completions made after the change; a lowered cap stops further completions but takes none back). " +
			"What counts and how (rule, limits, enrolment, claim) is frozen once published: changing it answers 409 challenge-published; " +
			"archive the challenge and publish a new one instead. Archived challenges cannot change.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body Patch
	}) (*challengeOutput, error) {
		p, err := auth.Require(ctx)
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
		auth.Register(api, huma.Operation{
			OperationID: t.op, Method: http.MethodPost, Path: t.path, Summary: t.summary, Tags: tags,
		}, auth.Managers, func(ctx context.Context, in *idInput) (*challengeOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(t.do(ctx, p.Tenant, in.ID))
		})
	}
	playerRoutes(api, s, tags)
}

func playerRoutes(api huma.API, s *Service, tags []string) {
	auth.Register(api, huma.Operation{
		OperationID: "list-my-challenges", Method: http.MethodGet, Path: "/v1/me/challenges",
		Summary: "My challenges with progress", Tags: tags,
		Description: "Every published challenge the player is eligible for, with progress per goal in the current period, " +
			"time left (resets_at), reward and what counts (the rule); plus archived ones the player completed.",
	}, auth.People, func(ctx context.Context, _ *struct{}) (*myChallengesOutput, error) {
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
	auth.Register(api, huma.Operation{
		OperationID: "join-challenge", Method: http.MethodPost, Path: "/v1/challenges/{id}/join",
		Summary: "Join an opt-in challenge", Tags: tags,
		Description: "Only events that occur after joining count. Joining again changes nothing. 403 not-eligible for other tiers or segments; 409 not-opt-in for a challenge everyone takes part in.",
	}, auth.People, func(ctx context.Context, in *idInput) (*joinOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		e, err := s.Join(ctx, p.Tenant, in.ID, p.Subject)
		if err != nil {
			return nil, err
		}
		out := &joinOutput{}
		out.Body.ChallengeID, out.Body.JoinedAt = e.ChallengeID, e.JoinedAt
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "claim-challenge", Method: http.MethodPost, Path: "/v1/challenges/{id}/claim",
		Summary: "Claim the reward of a completed challenge", Tags: tags,
		Description: "For challenges with claim: manual. Pays every unclaimed completion's reward once; repeating the call (or racing it) pays nothing more and answers the same. 409 nothing-to-claim before a completion.",
	}, auth.People, func(ctx context.Context, in *idInput) (*claimOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.Claim(ctx, p.Tenant, in.ID, p.Subject)
		if err != nil {
			return nil, err
		}
		return &claimOutput{Body: c}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "list-my-unlocks", Method: http.MethodGet, Path: "/v1/me/unlocks",
		Summary: "Content I unlocked", Tags: tags,
	}, auth.People, func(ctx context.Context, _ *struct{}) (*unlocksOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		us, err := s.Unlocks(ctx, p.Tenant, p.Subject)
		if err != nil {
			return nil, err
		}
		out := &unlocksOutput{}
		out.Body.Unlocks = append([]Unlock{}, us...)
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-challenge-stats", Method: http.MethodGet, Path: "/v1/challenges/{id}/stats",
		Summary: "Participants, completions and completion rate (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *idInput) (*statsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		st, err := s.Stats(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &statsOutput{Body: st}, nil
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

type joinOutput struct {
	Body struct {
		ChallengeID string    `json:"challenge_id"`
		JoinedAt    time.Time `json:"joined_at"`
	}
}

type claimOutput struct{ Body Claimed }

type unlocksOutput struct {
	Body struct {
		Unlocks []Unlock `json:"unlocks"`
	}
}

type statsOutput struct{ Body ManagerStats }
