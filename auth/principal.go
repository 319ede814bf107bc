// Package auth authenticates callers (JWTs for people, API keys for brand
// back ends), carries the resulting Principal through the request context
// and checks roles. The tenant of every request comes only from here.
package auth

import (
	"context"
	"slices"

	"github.com/questline/questline/internal/errs"
)

// Role is what a person may do in their tenant.
type Role string

// The roles. Admin holds every role; manager does not imply moderator.
const (
	Player    Role = "player"
	Moderator Role = "moderator"
	Manager   Role = "manager"
	Admin     Role = "admin"
)

// Principal is the authenticated caller.
type Principal struct {
	Tenant  string
	Subject string // user id (JWT sub); "key:<id>" for an API key
	Roles   []Role
	APIKey  bool     // an X-API-Key caller: may act for any user of the tenant
	Scopes  []string // API key scopes
}

// Has reports whether p holds role r (admins hold every role).
func (p Principal) Has(r Role) bool {
	return slices.Contains(p.Roles, r) || slices.Contains(p.Roles, Admin)
}

// HasScope reports whether p is an API key with scope s.
func (p Principal) HasScope(s string) bool { return p.APIKey && slices.Contains(p.Scopes, s) }

type ctxKey int

const (
	principalKey ctxKey = iota
	credErrKey
)

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// FromContext returns the principal the middleware stored, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

func withCredentialError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, credErrKey, err)
}

// Require returns the caller if it holds one of roles (any authenticated
// caller when none are given). API keys hold no roles: they pass only a
// Require without roles, and the scope checks of RequireScope.
func Require(ctx context.Context, roles ...Role) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		if err, _ := ctx.Value(credErrKey).(error); err != nil {
			return Principal{}, err
		}
		return Principal{}, errs.New(errs.Unauthorized, "unauthorized", "send a bearer token or an API key")
	}
	if len(roles) == 0 {
		return p, nil
	}
	for _, r := range roles {
		if p.Has(r) {
			return p, nil
		}
	}
	return Principal{}, errs.New(errs.Forbidden, "forbidden", "this action needs the %s role", roles[0])
}

// RequireScope admits an API key with scope, or a person with one of roles.
func RequireScope(ctx context.Context, scope string, roles ...Role) (Principal, error) {
	p, err := Require(ctx)
	if err != nil {
		return p, err
	}
	if p.HasScope(scope) {
		return p, nil
	}
	if !p.APIKey {
		for _, r := range roles {
			if p.Has(r) {
				return p, nil
			}
		}
	}
	return Principal{}, errs.New(errs.Forbidden, "forbidden", "this action needs the %s scope or role", scope)
}
