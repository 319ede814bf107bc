package leaderboards

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
)

const orderDoc = "Ranks are by score, highest first; equal scores rank the earlier achiever (achieved_at) first, then by user id, the same way on every read."

// Routes registers the leaderboard API.
func Routes(api huma.API, s *Service) {
	tags := []string{"leaderboards"}
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: tags}
	}
	create := op("create-leaderboard", http.MethodPost, "/v1/leaderboards", "Create a leaderboard (manager)",
		"A points board ranks points earned in each period of its window, from the ledger: points earned before the board existed count, and spending never lowers a rank. It is filled from the ledger in the background: the answer comes at once with `build.state` \"building\", the board's GET shows the build's progress (`done` of `total` ledger entries) until it is \"ready\", and reads meanwhile answer 200 with what is there so far and the `build`. "+
			"An event board ranks a metric of one event type (sum, best or latest value) from events that occur once it exists; an event still counts for a period that has ended if it arrives less than 24 hours after the end (as for challenges), and `max_per_event` caps what one event adds.")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.Managers, func(ctx context.Context, in *struct{ Body CreateInput }) (*boardOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.Create(ctx, p.Tenant, in.Body)
		if err != nil {
			return nil, err
		}
		return &boardOutput{Body: b}, nil
	})
	auth.Register(api, op("list-leaderboards", http.MethodGet, "/v1/leaderboards", "List leaderboards", ""), auth.Readers,
		func(ctx context.Context, _ *struct{}) (*boardListOutput, error) {
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
	auth.Register(api, op("get-leaderboard", http.MethodGet, "/v1/leaderboards/{id}", "A leaderboard's definition", ""), auth.Readers,
		func(ctx context.Context, in *idInput) (*boardOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			b, err := s.Get(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			return &boardOutput{Body: b}, nil
		})
	auth.Register(api, op("get-leaderboard-top", http.MethodGet, "/v1/leaderboards/{id}/top", "Top of a leaderboard",
		orderDoc+" With several server nodes, a score written through another node may take a fraction of a second to show here."), auth.Readers,
		func(ctx context.Context, in *topInput) (*pageOutput, error) {
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
			pg, err := s.top(ctx, p.Tenant, in.ID, in.Window, offset, in.Limit, true)
			if err != nil {
				return nil, err
			}
			out := &pageOutput{}
			out.Body.Page = pg
			if next := int64(offset + in.Limit); next < pg.Total {
				out.Body.NextCursor = strconv.FormatInt(next, 10)
			}
			return out, nil
		})
	auth.Register(api, op("get-leaderboard-me", http.MethodGet, "/v1/leaderboards/{id}/me", "My rank, with neighbours", orderDoc), auth.People,
		func(ctx context.Context, in *meInput) (*meOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			pg, me, err := s.Around(ctx, p.Tenant, in.ID, in.Window, p.Subject, in.Around)
			if err != nil {
				return nil, err
			}
			out := &meOutput{}
			out.Body.Page, out.Body.Me = pg, me
			return out, nil
		})
	auth.Register(api, op("get-leaderboard-user", http.MethodGet, "/v1/leaderboards/{id}/users/{uid}", "A user's rank and score",
		"404 not-ranked when the user is not on the board in that period."), auth.Readers,
		func(ctx context.Context, in *userInput) (*pageOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			pg, err := s.Member(ctx, p.Tenant, in.ID, in.Window, in.UID)
			if err != nil {
				return nil, err
			}
			out := &pageOutput{}
			out.Body.Page = pg
			return out, nil
		})
	auth.Register(api, op("rank-leaderboard-cohort", http.MethodPost, "/v1/leaderboards/{id}/cohort", "Rank a set of users against each other",
		"For friends boards: the app sends the player's friends list; the caller is included. rank is the rank within the cohort, board_rank the rank on the whole board; users not on the board are left out. It reads only."), auth.People,
		func(ctx context.Context, in *cohortInput) (*pageOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			for i, u := range in.Body.Users {
				if !auth.ValidUser(u) {
					return nil, errs.New(errs.Unprocessable, "bad-user-id", "%s", auth.UserRule).OnField("body.user_ids[" + strconv.Itoa(i) + "]")
				}
			}
			users := append(in.Body.Users, p.Subject)
			pg, err := s.Cohort(ctx, p.Tenant, in.ID, in.Body.Window, users)
			if err != nil {
				return nil, err
			}
			out := &pageOutput{}
			out.Body.Page = pg
			return out, nil
		})
	auth.Register(api, op("list-my-leaderboards", http.MethodGet, "/v1/me/leaderboards", "My rank on every board I am on",
		"In the current period of each board."), auth.People,
		func(ctx context.Context, _ *struct{}) (*standingsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			st, err := s.Standings(ctx, p.Tenant, p.Subject)
			if err != nil {
				return nil, err
			}
			out := &standingsOutput{}
			out.Body.Standings = st
			return out, nil
		})
	exclusionRoutes(api, s, op)
}

func exclusionRoutes(api huma.API, s *Service, op func(id, method, path, summary, desc string) huma.Operation) {
	exclude := op("exclude-from-leaderboard", http.MethodPost, "/v1/leaderboards/{id}/exclusions", "Take a user off a board (manager)",
		"Removes the user from every kept period of the board and keeps them off future writes and rebuilds (staff, test and bot accounts, fraud). Recorded in the audit log.")
	exclude.DefaultStatus = http.StatusCreated
	auth.Register(api, audit.SelfAudited(exclude), auth.Managers, func(ctx context.Context, in *excludeInput) (*exclusionOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		e, err := s.Exclude(ctx, p.Tenant, p.Subject, in.ID, in.Body)
		if err != nil {
			return nil, err
		}
		return &exclusionOutput{Body: e}, nil
	})
	auth.Register(api, op("list-leaderboard-exclusions", http.MethodGet, "/v1/leaderboards/{id}/exclusions", "Users kept off a board (manager)", ""), auth.Managers,
		func(ctx context.Context, in *idInput) (*exclusionsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			ex, err := s.Exclusions(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			out := &exclusionsOutput{}
			out.Body.Exclusions = append([]Exclusion{}, ex...)
			return out, nil
		})
	reinstate := op("reinstate-on-leaderboard", http.MethodDelete, "/v1/leaderboards/{id}/exclusions/{uid}", "Put an excluded user back (manager)",
		"The user's entries are derived again from the board's source. Recorded in the audit log.")
	reinstate.DefaultStatus = http.StatusNoContent
	auth.Register(api, audit.SelfAudited(reinstate), auth.Managers, func(ctx context.Context, in *userRef) (*struct{}, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.Reinstate(ctx, p.Tenant, p.Subject, in.ID, in.UID)
	})
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type userRef struct {
	ID  string `path:"id" maxLength:"64"`
	UID string `path:"uid" maxLength:"128" format:"user-id" doc:"User id."`
}

type boardOutput struct{ Body Board }

type boardListOutput struct {
	Body struct {
		Leaderboards []Board `json:"leaderboards"`
	}
}

type topInput struct {
	ID     string `path:"id" maxLength:"64"`
	Window string `query:"window" maxLength:"16" doc:"Period to read: current (default), previous, or a period name such as 2026-11-23, 2026-W48, 2026-11."`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"10"`
	Cursor string `query:"cursor" maxLength:"12" doc:"next_cursor of the previous page"`
}

type pageOutput struct {
	Body struct {
		Page
		NextCursor string `json:"next_cursor,omitempty"`
	}
}

type meInput struct {
	ID     string `path:"id" maxLength:"64"`
	Window string `query:"window" maxLength:"16" doc:"Period to read; default the current one."`
	Around int    `query:"around" minimum:"0" maximum:"50" default:"5" doc:"Neighbours to return on each side."`
}

type meOutput struct {
	Body struct {
		Page
		Me *Row `json:"me" doc:"The caller's entry; null when not ranked yet."`
	}
}

type userInput struct {
	ID     string `path:"id" maxLength:"64"`
	UID    string `path:"uid" maxLength:"128" format:"user-id" doc:"User id."`
	Window string `query:"window" maxLength:"16" doc:"Period to read; default the current one."`
}

type cohortInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Users  []string `json:"user_ids" maxItems:"1000" doc:"The users to rank, e.g. the player's friends; each follows the user-id rule (422 bad-user-id naming the item)."`
		Window string   `json:"window,omitempty" maxLength:"16" doc:"Period to read; default the current one."`
	}
}

type standingsOutput struct {
	Body struct {
		Standings []Standing `json:"standings"`
	}
}

type excludeInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body ExcludeInput
}

type exclusionOutput struct{ Body Exclusion }

type exclusionsOutput struct {
	Body struct {
		Exclusions []Exclusion `json:"exclusions"`
	}
}
