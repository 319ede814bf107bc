package events

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the event intake API; meter charges each event of a
// player's batch against their event rate limit.
func Routes(api huma.API, s *Service, meter Meter) {
	registerBatch(api, s, meter)
	auth.Register(api, huma.Operation{
		OperationID: "send-event", Method: http.MethodPost, Path: "/v1/events",
		Summary: "Send an event", Tags: []string{"events"},
		Description: "Players send client-allowed types (share, app_open, visit, ...) for themselves; " +
			"brand back ends send any type for any user with an API key holding events:write. " +
			"Idempotency keys belong to their sender (a player, or an API key): the same key from the same sender " +
			"always returns the first result (replayed: true) and changes nothing; " +
			"reusing a key for a different event is 409.",
	}, auth.Senders, func(ctx context.Context, in *struct {
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"128"`
		Body           Input
	}) (*resultOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		cat, err := s.catalog(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		ev, err := AcceptIn(cat, p, in.Body, in.IdempotencyKey, s.now())
		if err != nil {
			return nil, err
		}
		r, err := s.Ingest(ctx, ev)
		if err != nil {
			return nil, err
		}
		return &resultOutput{Body: r}, nil
	})
}

type resultOutput struct{ Body Result }

// Auditor records admins' actions.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// OpsRoutes registers the dead-letter API for the tenant's admins: events
// the sweeper gave up on, and retrying them. Retries are audited.
func OpsRoutes(api huma.API, s *Service, log Auditor) {
	auth.Register(api, huma.Operation{
		OperationID: "list-dead-events", Method: http.MethodGet, Path: "/v1/ops/dead-events",
		Summary: "Dead-lettered events, newest first (admin)", Tags: []string{"ops"},
		Description: "Events the sweeper gave up on: after " + fmt.Sprint(maxAttempts) + " failed attempts with backoff " +
			"(dead_reason too-many-attempts), or system events past the rule-loop depth limit (system-event-depth). " +
			"They are kept unprocessed until retried.",
	}, auth.Admins, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
		Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	}) (*deadPage, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		evs, err := s.DeadEvents(ctx, p.Tenant, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &deadPage{}
		out.Body.Events, out.Body.NextCursor = httpx.Page(evs, in.Limit, func(e Event) string { return e.ID })
		return out, nil
	})
	auth.Register(api, audit.SelfAudited(huma.Operation{
		OperationID: "retry-dead-event", Method: http.MethodPost, Path: "/v1/ops/dead-events/{id}/retry",
		Summary: "Retry a dead-lettered event (admin)", Tags: []string{"ops"},
		Description: "Processes the event at once. processed says whether it succeeded; if not, the sweeper " +
			"retries it again with a fresh count of attempts. Effects are keyed, so a retry never pays twice.",
	}), auth.Admins, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*eventOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		ev, err := s.Retry(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		err = log.Append(ctx, audit.Entry{Tenant: p.Tenant, Actor: p.Subject, Action: "event.retry",
			Subject: "event:" + ev.ID, Detail: map[string]string{"processed": strconv.FormatBool(ev.Processed)},
			At: s.now().UTC().Truncate(time.Millisecond)})
		if err != nil {
			return nil, fmt.Errorf("events: audit retry: %w", err)
		}
		return &eventOutput{Body: ev}, nil
	})
}

type deadPage struct {
	Body struct {
		Events     []Event `json:"events"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}
}

type eventOutput struct{ Body Event }
