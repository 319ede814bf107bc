package retention

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// Routes registers the retention setting's API.
func Routes(api huma.API, s *Service) {
	tags := []string{"retention"}
	auth.Register(api, huma.Operation{
		OperationID: "get-retention", Method: http.MethodGet, Path: "/v1/retention",
		Summary: "The tenant's retention of raw events (manager)", Tags: tags,
		Description: "Raw events and per-event records (challenge and badge contributions, event-board scores) older than the " +
			"effective retention are pruned by a daily job (and `server prune`). Folded state stays: challenge progress, " +
			"completions, awards, the ledger and leaderboards are unchanged by a prune. minimum_days is the longest window a " +
			"published rule still reads records from; all-time rules that read every record (distinct values, ordered steps, " +
			"limits) keep theirs whatever the setting.",
	}, auth.Managers, func(ctx context.Context, _ *struct{}) (*output, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		set, err := s.Get(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		return &output{Body: set}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-retention", Method: http.MethodPut, Path: "/v1/retention",
		Summary: "Set the tenant's retention (admin)", Tags: tags,
		Description: "days may not be shorter than minimum_days (422 retention-too-short on body.days). A shorter retention " +
			"takes effect at the next prune and cannot be undone for what it deleted.",
	}, auth.Admins, func(ctx context.Context, in *struct{ Body Input }) (*output, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		set, err := s.Set(ctx, p.Tenant, in.Body.Days)
		if err != nil {
			return nil, err
		}
		return &output{Body: set}, nil
	})
}

// Input is the body of put-retention.
type Input struct {
	Days int `json:"days" minimum:"1" maximum:"36500" doc:"Retention in days (1 to 36500)."`
}

type output struct{ Body Setting }
