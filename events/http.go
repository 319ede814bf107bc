package events

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// Routes registers the event intake API.
func Routes(api huma.API, s *Service) {
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
		ev, err := Accept(p, in.Body, in.IdempotencyKey, s.now())
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
