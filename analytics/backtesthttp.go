package analytics

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/leaderboards"
)

type backtestDays struct {
	Days int `json:"days" minimum:"1" maximum:"365" default:"30" doc:"Replay the events received in the last N days."`
}

type backtestInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body backtestDays
}

type backtestJobInput struct {
	ID  string `path:"id" maxLength:"64"`
	Job string `path:"job" maxLength:"64"`
}

type jobOutput[R any] struct {
	Location string `header:"Location"`
	Body     Job[R]
}

// backtestJobs is how a kind of object is backtested.
type backtestJobs[R any] struct {
	kind, plural  string // e.g. earn_rule, earn-rules
	desc, getDesc string
	start         func(ctx context.Context, tenant, id string, days int) (Job[R], error)
	find          func(tenant, id, job string) (Job[R], error)
}

// register adds POST /v1/{plural}/{id}/backtest, which starts a job, and
// GET /v1/{plural}/{id}/backtests/{job}, which polls it.
func (b backtestJobs[R]) register(api huma.API) {
	op, noun := strings.ReplaceAll(b.kind, "_", "-"), strings.ReplaceAll(b.kind, "_", " ")
	auth.Register(api, huma.Operation{
		OperationID: "backtest-" + op, Method: http.MethodPost, Path: "/v1/" + b.plural + "/{id}/backtest",
		Summary: "Backtest a " + noun + " (manager)", Tags: []string{"analytics", b.plural}, DefaultStatus: http.StatusAccepted,
		Description: b.desc,
	}, auth.Managers, func(ctx context.Context, in *backtestInput) (*jobOutput[R], error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		j, err := b.start(ctx, p.Tenant, in.ID, in.Body.Days)
		if err != nil {
			return nil, err
		}
		return &jobOutput[R]{Location: "/v1/" + b.plural + "/" + in.ID + "/backtests/" + j.ID, Body: j}, nil
	})
	get(api, "get-"+op+"-backtest", "/v1/"+b.plural+"/{id}/backtests/{job}", "A "+noun+" backtest (manager)", b.getDesc,
		func(_ context.Context, tenant string, in *backtestJobInput) (*jobOutput[R], error) {
			j, err := b.find(tenant, in.ID, in.Job)
			return &jobOutput[R]{Body: j}, err
		})
}

const jobsDoc = " Jobs live in the memory of the node that ran them."

func backtestRoutes(api huma.API, s *Service, kind, plural string) {
	backtestJobs[BacktestResult]{
		kind: kind, plural: plural,
		desc: "Starts replaying the tenant's events of the last N days through the " + kind + "'s rule (a draft's too) without " +
			"writing anything, as a background job on this node: poll the Location. The replay uses the engine's rule semantics " +
			"(goals, filters, periods and late-arrival grace, rolling windows, ordered steps, a challenge's completion cap, a badge's " +
			"edition limit and first tier); challenge limits, enrolment and eligibility are not applied.",
		getDesc: "Progress while it runs (share of the time span scanned); then who would have progressed and completed, the completions, " +
			"the points they would have paid and the completion curve." + jobsDoc,
		start: func(ctx context.Context, tenant, id string, days int) (Backtest, error) {
			return s.StartBacktest(ctx, tenant, kind, id, days)
		},
		find: func(tenant, id, job string) (Backtest, error) { return s.Backtest(tenant, kind, id, job) },
	}.register(api)
}

func earnBacktestRoutes(api huma.API, s *Service) {
	backtestJobs[EarnResult]{
		kind: "earn_rule", plural: "earn-rules",
		desc: "Starts replaying the tenant's events of the last N days through the earn rule (any status: a paused rule is a draft) " +
			"without writing anything, as a background job on this node: poll the Location. Events are priced in receipt order as the " +
			"live path prices them: event type and filters, rate, fixed or every Nth, caps per day, week and month of the rule's zone " +
			"folded per user, campaigns by occurred_at, stacking. Tier multipliers use each user's current tier (see users_with_tier). " +
			"Refunds and referrals are not replayed.",
		getDesc: "Progress while it runs; then the users matched and paid, the payouts and points (the liability the rule adds), " +
			"points per week, what the caps withheld, the points per day and sample users." + jobsDoc,
		start: s.StartEarnBacktest,
		find:  s.EarnBacktest,
	}.register(api)
}

type boardBacktestInput struct {
	Days int `query:"days" minimum:"1" maximum:"365" default:"30" doc:"Replay the last N days."`
	Body leaderboards.CreateInput
}

func boardBacktestRoutes(api huma.API, s *Service) {
	tags := []string{"analytics", "leaderboards"}
	auth.Register(api, huma.Operation{
		OperationID: "backtest-leaderboard", Method: http.MethodPost, Path: "/v1/leaderboards/backtest",
		Summary: "Backtest a board definition (manager)", Tags: tags, DefaultStatus: http.StatusAccepted,
		Description: "The body is a board definition, validated exactly as POST /v1/leaderboards validates it; nothing is created. " +
			"Starts replaying the last N days into the board's periods (its time zone) as a background job on this node: poll the " +
			"Location. An event board replays the stored events as if it had existed since (event type, prop, aggregation, " +
			"max_per_event, scope, late-arrival grace); a points board replays the ledger's credits created in the span. Each period " +
			"is summed up once nothing more can score in it (for a points board, a later reversal of its credits is left out).",
	}, auth.Managers, func(ctx context.Context, in *boardBacktestInput) (*jobOutput[BoardResult], error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		j, err := s.StartBoardBacktest(ctx, p.Tenant, in.Body, in.Days)
		if err != nil {
			return nil, err
		}
		return &jobOutput[BoardResult]{Location: "/v1/leaderboards/backtests/" + j.ID, Body: j}, nil
	})
	get(api, "get-leaderboard-backtest", "/v1/leaderboards/backtests/{job}", "A board backtest (manager)",
		"Progress while it runs; then per period the participants and the top 10, and the current period's."+jobsDoc,
		func(_ context.Context, tenant string, in *struct {
			Job string `path:"job" maxLength:"64"`
		}) (*jobOutput[BoardResult], error) {
			j, err := s.BoardBacktest(tenant, in.Job)
			return &jobOutput[BoardResult]{Body: j}, err
		})
}
