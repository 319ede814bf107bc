package events

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// TypesRoutes registers a tenant's event catalogue API.
func TypesRoutes(api huma.API, t *Types) {
	tags := []string{"events"}
	auth.Register(api, huma.Operation{
		OperationID: "get-event-types", Method: http.MethodGet, Path: "/v1/event-types",
		Summary: "The tenant's event catalogue", Tags: tags,
		Description: "Every event type the tenant accepts: the built-in defaults (builtin: true) and its own, " +
			"with who may send each and its prop schema. System types (challenge.completed, ...) are raised by Questline and not listed. " +
			"version is what PUT takes back.",
	}, auth.Readers, func(ctx context.Context, _ *struct{}) (*catalogueOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := t.Get(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		return &catalogueOutput{Body: catalogueView{Types: compile(c.Types).List(), Version: c.Version}}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-event-types", Method: http.MethodPut, Path: "/v1/event-types",
		Summary: "Replace the tenant's own event types (manager)", Tags: tags,
		Description: "types replaces every own type of the tenant; built-in ones stay as defaults and may be redefined " +
			"(to give them a schema or other senders); system types are reserved (422). Intake then checks each event's " +
			"props against its type's schema (422 at body.props.<name>). version must be the version last read (0 at first): " +
			"a catalogue changed meanwhile is 409 edit-conflict. Taking away a type or a prop that a published challenge, " +
			"badge or earn rule uses is 409 event-type-in-use / event-prop-in-use. Every node sees the change within milliseconds.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		Body struct {
			Version int64      `json:"version" minimum:"0" doc:"The version last read; 0 for a tenant with no own types yet."`
			Types   []TypeSpec `json:"types" maxItems:"200" nullable:"false"`
		}
	}) (*catalogueOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		c, err := t.Put(ctx, p.Tenant, in.Body.Version, in.Body.Types)
		if err != nil {
			return nil, err
		}
		return &catalogueOutput{Body: catalogueView{Types: compile(c.Types).List(), Version: c.Version}}, nil
	})
}

type catalogueView struct {
	Types   []TypeSpec `json:"types"`
	Version int64      `json:"version"`
}

type catalogueOutput struct{ Body catalogueView }
