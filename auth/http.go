package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/errs"
)

// HeaderAPIKey is the header a brand back end sends its API key in.
const HeaderAPIKey = "X-API-Key"

// Middleware authenticates an X-API-Key or an "Authorization: Bearer"
// JWT and stores the principal, or the reason the credential was
// rejected, in c.UserContext(); Require reports that reason. Requests
// without a credential pass on anonymous (ops endpoints are public):
// handlers call Require. When both headers are sent the API key is used.
// A nil v or keys disables that kind of credential.
func Middleware(v *Verifier, keys *Keys) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var p Principal
		var err error
		if key := c.Get(HeaderAPIKey); key != "" {
			if keys == nil {
				err = errs.New(errs.Unauthorized, "invalid-api-key", "API keys are not accepted here")
			} else {
				p, err = keys.Authenticate(ctx, key)
			}
		} else if h := c.Get(fiber.HeaderAuthorization); h != "" {
			p, err = bearer(v, h)
		} else {
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

// bearer verifies the token of an Authorization header value. The scheme
// name is case-insensitive (RFC 9110); only Bearer is accepted.
func bearer(v *Verifier, header string) (Principal, error) {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, errs.New(errs.Unauthorized, "unauthorized", "only Authorization: Bearer <JWT> is accepted")
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return Principal{}, invalidToken(nil, "the bearer token is empty")
	}
	if v == nil {
		return Principal{}, invalidToken(nil, "bearer tokens are not accepted here")
	}
	return v.Verify(tok)
}

// SecuritySchemes returns the OpenAPI security schemes the routes refer
// to, for the server to install in huma.Config: "bearer" (a JWT) and
// "apiKey" (the X-API-Key header).
func SecuritySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "JWT with sub (user), tid (tenant) and roles (player, moderator, manager, admin)."},
		"apiKey": {Type: "apiKey", In: "header", Name: HeaderAPIKey,
			Description: "Per-tenant key of a brand back end, created by an admin. Scopes: events:write (send any event type for any user: a POS) " +
				"and manage (everything a manager does, reads included). Each operation lists the scopes it admits (x-questline-access)."},
	}
}

// Routes registers the admin API for API keys: POST, GET /v1/api-keys and
// DELETE /v1/api-keys/{id}. Every one needs an admin JWT and acts in the
// admin's tenant.
func Routes(api huma.API, keys *Keys) {
	tags := []string{"auth"}
	Register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys", Tags: tags,
		Summary: "Create an API key (admin)", DefaultStatus: http.StatusCreated,
		Description: "Creates a key for a brand back end in the caller's tenant. The key itself is in this " +
			"response once and never again: only its hash is stored.",
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, Admins, func(ctx context.Context, in *createKeyInput) (*createdKeyOutput, error) {
		p, err := Require(ctx)
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
	Register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys", Tags: tags,
		Summary:     "List API keys (admin)",
		Description: "Lists the keys of the caller's tenant, revoked ones included, oldest first. Keys are never shown.",
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, Admins, func(ctx context.Context, _ *struct{}) (*listKeysOutput, error) {
		p, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		ks, err := keys.List(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
		out := &listKeysOutput{}
		out.Body.Keys = append([]APIKey{}, ks...)
		return out, nil
	})
	Register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{id}", Tags: tags,
		Summary: "Revoke an API key (admin)", DefaultStatus: http.StatusNoContent,
		Description: "Revokes a key of the caller's tenant. Every node rejects it within 30 seconds. " +
			"Revoking a revoked key succeeds.",
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, Admins, func(ctx context.Context, in *revokeKeyInput) (*struct{}, error) {
		p, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		if err := keys.Revoke(ctx, p.Tenant, in.ID); err != nil {
			return nil, err
		}
		return nil, nil
	})
}

type createKeyInput struct {
	Body struct {
		Name   string   `json:"name" minLength:"1" maxLength:"100" doc:"What the key is for." example:"POS integration"`
		Scopes []string `json:"scopes" minItems:"1" maxItems:"8" enum:"events:write,manage" doc:"events:write (send any event type for any user), manage (everything a manager does: challenges, badges, boards, exclusions, user attributes, audit log, and every read)."`
	}
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

type revokeKeyInput struct {
	ID string `path:"id" maxLength:"64" doc:"Key id."`
}
