package contests

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the contest API.
func Routes(api huma.API, s *Service) {
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{"contests"}}
	}
	create := op("create-contest", http.MethodPost, "/v1/contests", "Create a contest (manager)",
		"kind leaderboard: the contest gets its own board over [starts_at, ends_at) ranking board (points, an event metric, quiz scores...); "+
			"its top places at the close win the prizes in order, ties as the board orders them. kind draw: entries are earned by events "+
			"(earn rules) within the window, up to max_entries_per_user, by eligible players (tiers, segments, opt-in); the winners are drawn "+
			"verifiably: commitment (SHA-256 of a secret seed) is published from now on, the seed at the draw (docs/draws.md). "+
			"A prize with reward_id needs the reward's stock left to cover its quantity (409 prize-out-of-stock, 422 for an unknown reward).")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.Managers, func(ctx context.Context, in *struct{ Body Definition }) (*contestOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, op("list-contests", http.MethodGet, "/v1/contests", "List contests",
		"In creation order. A page may hold fewer than limit contests; follow next_cursor until it is absent."), auth.Readers,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			cs, err := s.List(ctx, p.Tenant, in.Status, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &listOutput{}
			out.Body.Contests, out.Body.NextCursor = httpx.Page(cs, in.Limit, func(c Contest) string { return c.ID })
			return out, nil
		})
	auth.Register(api, op("get-contest", http.MethodGet, "/v1/contests/{id}", "Get a contest", ""), auth.Readers,
		func(ctx context.Context, in *idInput) (*contestOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Get(ctx, p.Tenant, in.ID))
		})
	auth.Register(api, op("update-contest", http.MethodPatch, "/v1/contests/{id}", "Edit a contest (manager)",
		"Name and description any time; the prize list only before the start (409 contest-started). The close moves only by extend and end."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body Patch
		}) (*contestOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
		})
	playerRoutes(api, s, op)
	managerRoutes(api, s, op)
}

func playerRoutes(api huma.API, s *Service, op func(id, method, path, summary, desc string) huma.Operation) {
	auth.Register(api, op("enter-contest", http.MethodPost, "/v1/contests/{id}/enter", "Enter a prize draw",
		"With opt_in, opts in (where eligibility.opt_in requires it, events earn entries only after that; repeating it is harmless); "+
			"403 not-eligible outside the contest's tiers or segments, 409 entry-window-closed outside its window. With buy, buys tickets at "+
			"points_per_entry each, spent from your points like a redemption (409 insufficient-points, 409 entry-cap past max_entries_per_user, "+
			"409 not-for-sale); send an Idempotency-Key so a retry buys nothing twice. Answers your tickets and your entrant handle in the "+
			"published entry list."), auth.People,
		func(ctx context.Context, in *struct {
			ID             string `path:"id" maxLength:"64"`
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Names the purchase: a retry with the same key buys nothing again."`
			Body           EnterInput
		}) (*enterOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			r, err := s.Enter(ctx, p.Tenant, p.Subject, in.ID, in.IdempotencyKey, in.Body)
			if err != nil {
				return nil, err
			}
			return &enterOutput{Body: r}, nil
		})
	auth.Register(api, op("get-my-contest-entries", http.MethodGet, "/v1/contests/{id}/me", "My entries in a prize draw", ""), auth.People,
		func(ctx context.Context, in *idInput) (*enterOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			r, err := s.Enter(ctx, p.Tenant, p.Subject, in.ID, "", EnterInput{})
			if err != nil {
				return nil, err
			}
			return &enterOutput{Body: r}, nil
		})
	auth.Register(api, op("get-contest-winners", http.MethodGet, "/v1/contests/{id}/winners", "A contest's winners and its proof",
		"Winners by place (prize index into prizes, paid_at once paid), the frozen standings of a leaderboard contest, and for a prize "+
			"draw the record a verifier needs (draw): commitment, revealed seed, entry list hash and count, places, disqualifications in order "+
			"and the winners' entrant handles. Before the draw: the commitment only. Check it with go run ./cmd/verify-draw."), auth.Readers,
		func(ctx context.Context, in *idInput) (*winnersOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			c, err := s.Get(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			out := &winnersOutput{}
			out.Body = Winners{ContestID: c.ID, Kind: c.Kind, Status: c.Status, EndsAt: c.EndsAt, Prizes: c.Prizes,
				Result: c.Result, Disqualified: c.Disqualified, Draw: c.Record()}
			return out, nil
		})
	entries := op("get-contest-entries", http.MethodGet, "/v1/contests/{id}/entries", "A drawn prize draw's entry list",
		"The canonical entry list file the draw ran over: one ticket a line, <entrant>TAB<number>LF, sorted by entrant then number. "+
			"Its SHA-256 is the record's entries_hash. 409 before the draw.")
	entries.Responses = map[string]*huma.Response{"200": {Description: "The entry list file", Content: map[string]*huma.MediaType{"text/plain": {}}}}
	auth.Register(api, entries, auth.Readers, func(ctx context.Context, in *idInput) (*fileOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.EntryList(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &fileOutput{ContentType: "text/plain; charset=utf-8", Body: b}, nil
	})
}

func managerRoutes(api huma.API, s *Service, op func(id, method, path, summary, desc string) huma.Operation) {
	auth.Register(api, op("draw-contest", http.MethodPost, "/v1/contests/{id}/draw", "Close a contest and decide its winners (manager)",
		"A prize draw: after the close and its settle time (409 draw-settling meanwhile), freezes the entry list, reveals the seed and "+
			"draws. A leaderboard contest: freezes the board's standings at the close. Then pays each winner once (points, badge, a free "+
			"redemption of a reward prize), emits contest.won and pushes to the winners and to contest:{id}. Repeating it returns the same "+
			"result and finishes pending payments. Every node also runs this by itself, within 15 s of the close (plus the settle time)."), auth.Managers,
		func(ctx context.Context, in *idInput) (*contestOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Draw(ctx, p.Tenant, in.ID))
		})
	for _, t := range []struct {
		id, path, summary, desc string
		do                      func(context.Context, string, string, string, Reschedule) (Contest, error)
	}{
		{"extend-contest", "/v1/contests/{id}/extend", "Extend a running contest (manager)",
			"Moves the close to ends_at, later than the current one and at least 5 s away (409 contest-closing after that, so that every node sees the new close before the old one passes). A leaderboard contest's board is extended in place, whatever its source: board_id and the standings so far stay, and scores up to the new close count. Audited with the reason.", s.Extend},
		{"end-contest", "/v1/contests/{id}/end", "Force-end a running contest (manager)",
			"Closes it now. A leaderboard contest's standings are frozen and its winners paid at once; a prize draw is then drawn by POST /draw. Audited with the reason.", s.ForceEnd},
	} {
		auth.Register(api, audit.SelfAudited(op(t.id, http.MethodPost, t.path, t.summary, t.desc)), auth.Managers,
			func(ctx context.Context, in *struct {
				ID   string `path:"id" maxLength:"64"`
				Body Reschedule
			}) (*contestOutput, error) {
				p, err := auth.Require(ctx)
				if err != nil {
					return nil, err
				}
				return one(t.do(ctx, p.Tenant, p.Subject, in.ID, in.Body))
			})
	}
	auth.Register(api, audit.SelfAudited(op("disqualify-contest-winner", http.MethodPost, "/v1/contests/{id}/disqualify", "Disqualify a winner (manager)",
		"The place goes to the next entrant of the draw's order (or the next row of the frozen standings) who has held no place; nobody else "+
			"moves. Prize points the disqualified winner was paid are reversed (a badge stays). Repeating it is harmless. Audited with the reason.")), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body DisqualifyInput
		}) (*contestOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Disqualify(ctx, p.Tenant, p.Subject, in.ID, in.Body))
		})
}

// Winners is a contest's outcome as published.
type Winners struct {
	ContestID    string             `json:"contest_id"`
	Kind         Kind               `json:"kind"`
	Status       Status             `json:"status"`
	EndsAt       time.Time          `json:"ends_at"`
	Prizes       []Prize            `json:"prizes"`
	Result       *Result            `json:"result,omitempty"`
	Disqualified []Disqualification `json:"disqualified,omitempty"`
	Draw         *draw.Record       `json:"draw,omitempty" doc:"Prize draws: what cmd/verify-draw checks, with the entry list file."`
}

func one(c Contest, err error) (*contestOutput, error) {
	if err != nil {
		return nil, err
	}
	return &contestOutput{Body: c}, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type contestOutput struct{ Body Contest }

type enterOutput struct{ Body EnterResult }

type winnersOutput struct{ Body Winners }

type fileOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

type listInput struct {
	Status Status `query:"status" enum:"open,finished" doc:"Filter by status."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

// Page is one page of contests.
type Page struct {
	Contests   []Contest `json:"contests"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

type listOutput struct{ Body Page }
