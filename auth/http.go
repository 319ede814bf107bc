package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
)

// Middleware authenticates a Bearer JWT or an X-API-Key and stores the
// principal, or the credential's error, in the request context. Requests
// without credentials pass on anonymous: handlers call Require.
func Middleware(v *Verifier, keys *Keys) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var p Principal
		var err error
		switch {
		case c.Get("X-API-Key") != "":
			p, err = keys.Authenticate(ctx, c.Get("X-API-Key"))
		case c.Get(fiber.HeaderAuthorization) != "":
			h := c.Get(fiber.HeaderAuthorization)
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				tok = "" // Verify rejects it: only bearer tokens are accepted
			}
			p, err = v.Verify(strings.TrimSpace(tok))
		default:
			return c.Next()
		}
		if err != nil {
			c.SetUserContext(withCredentialError(ctx, err))
		} else {
			c.SetUserContext(WithPrincipal(ctx, p))
		}
		return c.Next()
	}
}

// SecuritySchemes are the OpenAPI security schemes the routes refer to.
func SecuritySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "JWT with sub (user), tid (tenant) and roles (player, moderator, manager, admin)."},
		"apiKey": {Type: "apiKey", In: "header", Name: "X-API-Key",
			Description: "Per-tenant key of a brand back end, created by an admin."},
	}
}

// Routes registers the admin API for API keys.
func Routes(api huma.API, keys *Keys) {
	sec := []map[string][]string{{"bearer": {}}}
	tags := []string{"auth"}
	huma.Register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys", Tags: tags, Security: sec,
		Summary: "Create an API key (admin)", DefaultStatus: http.StatusCreated,
		Description: "The key is in the response once and never again; only its hash is stored.",
	}, func(ctx context.Context, in *struct {
		Body struct {
			Name   string   `json:"name" minLength:"1" maxLength:"100"`
			Scopes []string `json:"scopes" minItems:"1" maxItems:"8" doc:"events:write (send any event for any user), manage"`
		}
	}) (*createdKeyOutput, error) {
		p, err := Require(ctx, Admin)
		if err != nil {
			return nil, err
		}
		k, plain, err := keys.Create(ctx, p.Tenant, in.Body.Name, in.Body.Scopes)
		if err != nil {
			return nil, err
		}
		out := &createdKeyOutput{}
		out.Body.APIKey, out.Body.Key = k, plain
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys", Tags: tags, Security: sec,
		Summary: "List API keys (admin)",
	}, func(ctx context.Context, _ *struct{}) (*listKeysOutput, error) {
		p, err := Require(ctx, Admin)
		if err != nil {
			return nil, err
		}
		ks, err := keys.List(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		out := &listKeysOutput{}
		out.Body.Keys = append([]APIKey{}, ks...)
		for i := range out.Body.Keys {
			if out.Body.Keys[i].Scopes == nil {
				out.Body.Keys[i].Scopes = []string{}
			}
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{id}", Tags: tags, Security: sec,
		Summary: "Revoke an API key (admin)", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*struct{}, error) {
		p, err := Require(ctx, Admin)
		if err != nil {
			return nil, err
		}
		return nil, keys.Revoke(ctx, p.Tenant, in.ID)
	})
}

type createdKeyOutput struct {
	Body struct {
		APIKey
		Key string `json:"key" doc:"The key itself: store it now, it is not shown again."`
	}
}

type listKeysOutput struct {
	Body struct {
		Keys []APIKey `json:"keys"`
	}
}
