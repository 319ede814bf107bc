package webhooks

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Routes registers the webhook API: managers' endpoints, their delivery
// logs and replays.
func Routes(api huma.API, s *Service) {
	op := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{"webhooks"}}
	}
	create := op("create-webhook", http.MethodPost, "/v1/webhooks", "Register a webhook endpoint (manager)",
		"Events of the chosen types are POSTed to the URL as JSON {type, timestamp, data}, signed the Standard Webhooks way: "+
			"headers webhook-id (the delivery id, the same on every retry: deduplicate on it), webhook-timestamp (Unix seconds) and "+
			"webhook-signature (\"v1,\" and the base64 HMAC-SHA256 of \"id.timestamp.body\" keyed by the base64-decoded part of the secret after whsec_). "+
			"Answer 2xx within 10 s; anything else is retried with exponential backoff and jitter for 24 h. "+
			"An endpoint whose attempts keep failing (10 in a row over 24 h) is disabled with a reason. "+
			"The secret is returned only here and on rotation. Private, loopback and link-local addresses are refused at connection time "+
			"unless the operator allows the tenant (QL_WEBHOOK_PRIVATE_TENANTS).")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.Managers, func(ctx context.Context, in *struct{ Body Input }) (*secretOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return withSecret(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, op("list-webhooks", http.MethodGet, "/v1/webhooks", "List webhook endpoints (manager)",
		"By id; follow next_cursor until it is absent. Secrets are not shown."), auth.Managers,
		func(ctx context.Context, in *pageInput) (*webhookListOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			eps, err := s.List(ctx, p.Tenant, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &webhookListOutput{}
			out.Body.Webhooks, out.Body.NextCursor = httpx.Page(eps, in.Limit, func(e Endpoint) string { return e.ID })
			return out, nil
		})
	auth.Register(api, op("get-webhook", http.MethodGet, "/v1/webhooks/{id}", "Get a webhook endpoint (manager)",
		"With its failure count and, if disabled, why."), auth.Managers,
		func(ctx context.Context, in *idInput) (*endpointOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Get(ctx, p.Tenant, in.ID))
		})
	auth.Register(api, op("update-webhook", http.MethodPatch, "/v1/webhooks/{id}", "Edit a webhook endpoint (manager)",
		"Change url, description or event_types, or disable/enable it (enabling clears its failures). "+
			"Deliveries already queued keep their body; they go to the new URL."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body Patch
		}) (*endpointOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
		})
	del := op("delete-webhook", http.MethodDelete, "/v1/webhooks/{id}", "Delete a webhook endpoint (manager)",
		"Its queued deliveries are dropped and its delivery log deleted.")
	del.DefaultStatus = http.StatusNoContent
	auth.Register(api, del, auth.Managers, func(ctx context.Context, in *idInput) (*struct{}, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.Delete(ctx, p.Tenant, in.ID)
	})
	auth.Register(api, op("rotate-webhook-secret", http.MethodPost, "/v1/webhooks/{id}/rotate-secret", "Rotate an endpoint's signing secret (manager)",
		"Returns the new secret. For overlap_seconds (default 86400) every delivery carries two signatures, "+
			"space-separated in webhook-signature: one with the new secret and one with the old, so the receiver can switch at leisure."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				OverlapSeconds int64 `json:"overlap_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old secret keeps signing (0: 86400)."`
			}
		}) (*secretOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return withSecret(s.Rotate(ctx, p.Tenant, in.ID, time.Duration(in.Body.OverlapSeconds)*time.Second))
		})
	auth.Register(api, op("list-webhook-deliveries", http.MethodGet, "/v1/webhooks/{id}/deliveries", "An endpoint's delivery log (manager)",
		"Newest first: each delivery's body, status (pending, delivered, failed), attempts, the next attempt and the last one's HTTP status and error. "+
			"Follow next_cursor until it is absent."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID     string `path:"id" maxLength:"64"`
			Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
			Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
		}) (*webhookDeliveriesOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			ds, err := s.Deliveries(ctx, p.Tenant, in.ID, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &webhookDeliveriesOutput{}
			out.Body.Deliveries, out.Body.NextCursor = httpx.Page(ds, in.Limit, func(d Delivery) string { return d.ID })
			return out, nil
		})
	auth.Register(api, op("replay-webhook-delivery", http.MethodPost, "/v1/webhooks/{id}/deliveries/{delivery}/replay", "Send a delivery again (manager)",
		"Due at once, with the same webhook-id and body, and retried for another 24 h if it fails. 409 if the endpoint is disabled."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID       string `path:"id" maxLength:"64"`
			Delivery string `path:"delivery" maxLength:"64"`
		}) (*deliveryOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			d, err := s.Replay(ctx, p.Tenant, in.ID, in.Delivery)
			if err != nil {
				return nil, err
			}
			return &deliveryOutput{Body: d}, nil
		})
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type pageInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type endpointOutput struct{ Body Endpoint }

// WithSecret is an endpoint as created or rotated: the only answers that
// show its signing secret.
type WithSecret struct {
	Endpoint
	Secret string `json:"secret" doc:"whsec_ and the base64 HMAC key. Shown only now: keep it."`
}

type secretOutput struct{ Body WithSecret }

func withSecret(e Endpoint, err error) (*secretOutput, error) {
	if err != nil {
		return nil, err
	}
	return &secretOutput{Body: WithSecret{Endpoint: e, Secret: e.Secret}}, nil
}

func one(e Endpoint, err error) (*endpointOutput, error) {
	if err != nil {
		return nil, err
	}
	return &endpointOutput{Body: e}, nil
}

type webhookListOutput struct {
	Body struct {
		Webhooks   []Endpoint `json:"webhooks"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}
}

type webhookDeliveriesOutput struct {
	Body struct {
		Deliveries []Delivery `json:"deliveries"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}
}

type deliveryOutput struct{ Body Delivery }
