// Package auth authenticates callers (JWTs for people, API keys for brand
// back ends), carries the resulting Principal through the request context
// and checks roles and scopes. The tenant of every request comes only from
// here: never from a body, a path or a query.
package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Role is what a person may do in their tenant.
type Role string

// The roles. Admin holds every role; manager does not imply moderator.
const (
	Player    Role = "player"    // plays: sends client events, joins challenges
	Moderator Role = "moderator" // moderates user-generated content
	Manager   Role = "manager"   // runs the programme: challenges, boards, rewards
	Admin     Role = "admin"     // everything, including API keys
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case Player, Moderator, Manager, Admin:
		return true
	}
	return false
}

// Principal is the authenticated caller. Tenant comes only from the
// credential.
type Principal struct {
	Tenant  string
	Subject string   // user id (JWT sub); "key:<id>" for an API key
	Roles   []Role   // empty for API keys
	APIKey  bool     // an X-API-Key caller (a brand back end): may act for any user of the tenant
	Scopes  []string // API key scopes, e.g. "events:write", "manage"

	// Expires is a token's exp (a live connection ends then); zero for
	// API keys.
	Expires time.Time
}

// Has reports whether p holds role r. Admins hold every role; no other
// role implies another.
func (p Principal) Has(r Role) bool {
	return slices.Contains(p.Roles, r) || slices.Contains(p.Roles, Admin)
}

// HasScope reports whether p is an API key with scope s. People have no
// scopes.
func (p Principal) HasScope(s string) bool { return p.APIKey && slices.Contains(p.Scopes, s) }

// clone returns p with its own copies of the slices, so a caller that
// edits them cannot change a cached principal.
func (p Principal) clone() Principal {
	p.Roles = slices.Clone(p.Roles)
	p.Scopes = slices.Clone(p.Scopes)
	return p
}

type ctxKey int

const (
	principalKey ctxKey = iota
	credErrKey
)

// WithPrincipal returns ctx carrying p as the authenticated caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// FromContext returns the principal the middleware stored, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// withCredentialError returns ctx carrying the reason a presented
// credential was rejected, for Require to report.
func withCredentialError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, credErrKey, err)
}

// errUnauthorized is the error of a request that sent no credential.
func errUnauthorized() *errs.Error {
	return errs.New(errs.Unauthorized, "unauthorized", "send a bearer token or an API key")
}

// Require returns the caller if it holds at least one of roles, or any
// authenticated caller when no roles are given. A request without a
// credential gets an Unauthorized error, one whose credential the
// middleware rejected gets that rejection (e.g. "token-expired"), and a
// caller without the role gets Forbidden. API keys hold no roles: they
// pass only a Require without roles. Routes declare who they admit with
// an Access instead (see Register); handlers call Require(ctx) for the
// caller.
func Require(ctx context.Context, roles ...Role) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		if err, _ := ctx.Value(credErrKey).(error); err != nil {
			return Principal{}, err
		}
		return Principal{}, errUnauthorized()
	}
	if p.Tenant == "" || p.Subject == "" || Erased(p.Subject) {
		// Only a programming error stores such a principal; never let it
		// reach a query as the empty tenant. A pseudonym is never a
		// caller: its records belong to an erased user.
		return Principal{}, errUnauthorized()
	}
	if len(roles) == 0 {
		return p, nil
	}
	for _, r := range roles {
		if p.Has(r) {
			return p, nil
		}
	}
	return Principal{}, errs.New(errs.Forbidden, "forbidden", "this action needs the %s role", roleList(roles))
}

// roleList renders roles for an error message: "manager or admin".
func roleList(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}
