package users

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/internal/httpx"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// Views are the player-view reads a manager's view of a user reuses, so
// staff see exactly what the player sees.
type Views struct {
	Points interface {
		Wallet(ctx context.Context, tenant, user string) (points.Wallet, error)
		Ledger(ctx context.Context, tenant, user, before string, limit int) ([]points.Entry, error)
	}
	Challenges interface {
		ForPlayer(ctx context.Context, tenant, user string) ([]challenges.PlayerChallenge, error)
		Unlocks(ctx context.Context, tenant, user string) ([]challenges.Unlock, error)
	}
	Badges interface {
		ForPlayer(ctx context.Context, tenant, user string) ([]badges.PlayerBadge, error)
	}
	Leaderboards interface {
		Standings(ctx context.Context, tenant, user string) ([]leaderboards.Standing, error)
	}
}

// Routes registers the staff API about one user. Managers (and admins)
// read a user's views and export; only admins erase. Every call is
// recorded in the audit log.
func Routes(api huma.API, s *Service, v Views) {
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"users"}, Security: []map[string][]string{{"bearer": {}}}}
	}
	const audited = " Recorded in the audit log (user.read)."
	view(api, s, op("get-user-wallet", http.MethodGet, "/v1/users/{id}/wallet", "A user's wallet (manager)",
		"What the user sees at GET /me/wallet."+audited), "wallet", v.Points.Wallet)
	view(api, s, op("list-user-challenges", http.MethodGet, "/v1/users/{id}/challenges", "A user's challenges with progress (manager)",
		"What the user sees at GET /me/challenges."+audited), "challenges",
		func(ctx context.Context, tenant, user string) (challengesBody, error) {
			cs, err := v.Challenges.ForPlayer(ctx, tenant, user)
			return challengesBody{Challenges: cs}, err
		})
	view(api, s, op("list-user-unlocks", http.MethodGet, "/v1/users/{id}/unlocks", "Content a user unlocked (manager)",
		"What the user sees at GET /me/unlocks."+audited), "unlocks",
		func(ctx context.Context, tenant, user string) (unlocksBody, error) {
			us, err := v.Challenges.Unlocks(ctx, tenant, user)
			return unlocksBody{Unlocks: append([]challenges.Unlock{}, us...)}, err
		})
	view(api, s, op("list-user-badge-progress", http.MethodGet, "/v1/users/{id}/badges/progress", "A user's badges with progress (manager)",
		"What the user sees at GET /me/badges: awards, expired ones flagged, and progress towards what is left, secret badges included once held. "+
			"(GET /users/{id}/badges is the public showcase.)"+audited), "badges",
		func(ctx context.Context, tenant, user string) (badgesBody, error) {
			bs, err := v.Badges.ForPlayer(ctx, tenant, user)
			return badgesBody{Badges: bs}, err
		})
	view(api, s, op("list-user-leaderboards", http.MethodGet, "/v1/users/{id}/leaderboards", "A user's rank on every board (manager)",
		"What the user sees at GET /me/leaderboards: the rank on every board the user is on, in its current period."+audited), "leaderboards",
		func(ctx context.Context, tenant, user string) (standingsBody, error) {
			st, err := v.Leaderboards.Standings(ctx, tenant, user)
			return standingsBody{Standings: st}, err
		})
	auth.Register(api, op("list-user-ledger", http.MethodGet, "/v1/users/{id}/ledger", "A user's ledger, newest first (manager)",
		"What the user sees at GET /me/ledger."+audited), auth.Managers,
		func(ctx context.Context, in *ledgerInput) (*out[ledgerBody], error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			es, err := v.Points.Ledger(ctx, p.Tenant, in.ID, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			var b ledgerBody
			b.Entries, b.NextCursor = httpx.Page(es, in.Limit, func(e points.Entry) string { return e.ID })
			if err := s.Read(ctx, p, in.ID, "ledger"); err != nil {
				return nil, err
			}
			return &out[ledgerBody]{Body: b}, nil
		})
	act(api, op("export-user", http.MethodGet, "/v1/users/{id}/export", "Export a user's data (manager)",
		"A JSON document with one section per domain: events, points (wallet and ledger), challenges (progress, completions, enrolments, unlocks), "+
			"badges (awards, progress), leaderboards (ranks, event-board scores, exclusions), profiles (profile, attributes), audit (entries about the user). "+
			"After an erasure every section is empty. Recorded in the audit log (user.export)."), auth.Managers, s.Export)
	act(api, audit.SelfAudited(op("erase-user", http.MethodPost, "/v1/users/{id}/erase", "Erase a user's data (admin)",
		"Deletes the user's events, progress, unlocks, badge progress, event-board scores, exclusions, profile and attributes, and "+
			"anonymises what totals depend on: ledger lines, awards, completions and enrolments move to the user's pseudonym (reasons and event ids scrubbed), "+
			"so tenant sums, limited editions and challenge stats stay exact, and the pseudonym is on no board, also after a rebuild. "+
			"Audit entries about the user name the pseudonym instead. Synchronous: the work is bounded by the user's own records, read through per-user indexes. "+
			"Idempotent: repeating it (for example after a failure midway) finishes the work and changes nothing more. "+
			"Events sent for the user id afterwards start a new user. Recorded in the audit log (user.erase, under the pseudonym).")), auth.Admins, s.Erase)
}

// act registers a staff operation on the user in the path.
func act[T any](api huma.API, op huma.Operation, a auth.Access, do func(ctx context.Context, p auth.Principal, user string) (T, error)) {
	auth.Register(api, op, a, func(ctx context.Context, in *userInput) (*out[T], error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		b, err := do(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &out[T]{Body: b}, nil
	})
}

// view registers a manager's audited read of one player view.
func view[T any](api huma.API, s *Service, op huma.Operation, name string, read func(ctx context.Context, tenant, user string) (T, error)) {
	act(api, op, auth.Managers, func(ctx context.Context, p auth.Principal, user string) (T, error) {
		b, err := read(ctx, p.Tenant, user)
		if err != nil {
			return b, err
		}
		return b, s.Read(ctx, p, user, name)
	})
}

type userInput struct {
	ID string `path:"id" maxLength:"128" format:"user-id" doc:"The user's id."`
}

type ledgerInput struct {
	ID     string `path:"id" maxLength:"128" format:"user-id" doc:"The user's id."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type out[T any] struct{ Body T }

type challengesBody struct {
	Challenges []challenges.PlayerChallenge `json:"challenges"`
}

type unlocksBody struct {
	Unlocks []challenges.Unlock `json:"unlocks"`
}

type badgesBody struct {
	Badges []badges.PlayerBadge `json:"badges"`
}

type standingsBody struct {
	Standings []leaderboards.Standing `json:"standings"`
}

type ledgerBody struct {
	Entries    []points.Entry `json:"entries"`
	NextCursor string         `json:"next_cursor,omitempty"`
}
