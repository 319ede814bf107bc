package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
)

// Access says who an operation admits. Every operation declares one (see
// Register); AccessMiddleware refuses everyone else before the handler
// runs, so the declaration is the one place that decides. Handlers still
// make finer checks of their own (a player reads only their own wallet,
// only managers see drafts).
type Access struct {
	Public bool     `json:"public,omitempty"` // no credential needed (ops endpoints)
	People bool     `json:"people,omitempty"` // every signed-in person (JWT), whatever their roles
	Roles  []Role   `json:"roles,omitempty"`  // people holding one of these (an admin holds every role)
	Scopes []string `json:"scopes,omitempty"` // API keys holding one of these
}

// The declarations the routes use.
var (
	// Public admits anyone, credential or not.
	Public = Access{Public: true}
	// People admits every signed-in person and no API key: the /me routes,
	// which act for the caller's own user.
	People = Access{People: true}
	// Readers admits every signed-in person and manage keys: what anyone
	// of the tenant may read (published challenges, boards, showcases).
	Readers = Access{People: true, Scopes: []string{ScopeManage}}
	// Senders admits every signed-in person and events:write keys: event
	// intake, which checks per type who may send it.
	Senders = Access{People: true, Scopes: []string{ScopeEventsWrite}}
	// Managers admits managers (and admins) and manage keys.
	Managers = Access{Roles: []Role{Manager}, Scopes: []string{ScopeManage}}
	// Admins admits admins only; no API key manages API keys.
	Admins = Access{Roles: []Role{Admin}}
)

// Admits reports whether the authenticated caller p may call an operation
// declared a. A person passes on People or a role, an API key only on a
// scope: a key never passes on roles, nor a person on scopes.
func (a Access) Admits(p Principal) bool {
	if a.Public {
		return true
	}
	if p.APIKey {
		return slices.ContainsFunc(a.Scopes, p.HasScope)
	}
	return a.People || slices.ContainsFunc(a.Roles, p.Has)
}

// String renders a for people: "the manager or admin role; API keys with
// the manage scope".
func (a Access) String() string {
	if a.Public {
		return "anyone, no credential needed"
	}
	var who []string
	switch {
	case a.People:
		who = append(who, "every signed-in user")
	case len(a.Roles) > 0:
		roles := a.Roles
		if !slices.Contains(roles, Admin) {
			roles = append(slices.Clone(roles), Admin) // admins hold every role
		}
		who = append(who, "the "+roleList(roles)+" role")
	}
	if len(a.Scopes) > 0 {
		who = append(who, "API keys with the "+strings.Join(a.Scopes, " or ")+" scope")
	}
	if len(who) == 0 {
		return "nobody"
	}
	return strings.Join(who, "; ")
}

// refusal is the error for a caller a does not admit.
func (a Access) refusal(p Principal) error {
	if p.APIKey {
		if len(a.Scopes) == 0 {
			return errs.New(errs.Forbidden, "forbidden", "API keys cannot do this; it needs %s", a)
		}
		return errs.New(errs.Forbidden, "forbidden", "this API key lacks the %s scope", strings.Join(a.Scopes, " or "))
	}
	if len(a.Roles) == 0 {
		return errs.New(errs.Forbidden, "forbidden", "only an API key can do this: %s", a)
	}
	return errs.New(errs.Forbidden, "forbidden", "this action needs the %s role", roleList(a.Roles))
}

// accessKey is the key of an operation's Access in huma.Operation.Metadata.
const accessKey = "questline.access"

// AccessExtension is the OpenAPI extension that documents each
// operation's Access.
const AccessExtension = "x-questline-access"

// Declare returns op with a recorded as its access: in its Metadata for
// AccessMiddleware, in its OpenAPI document (the x-questline-access
// extension, a line of its description, its security schemes and the 401
// and 403 answers). Raw
// routes documented with huma.OpenAPI.AddOperation use it too.
func Declare(op huma.Operation, a Access) huma.Operation {
	if !a.Public && !a.People && len(a.Roles) == 0 && len(a.Scopes) == 0 {
		panic(fmt.Sprintf("auth: operation %s admits nobody", op.OperationID))
	}
	op.Metadata = mapWith(op.Metadata, accessKey, a)
	op.Extensions = mapWith(op.Extensions, AccessExtension, a)
	line := "Access: " + a.String() + "."
	if op.Description == "" {
		op.Description = line
	} else {
		op.Description += "\n\n" + line
	}
	if !a.Public {
		for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
			if !slices.Contains(op.Errors, status) {
				op.Errors = append(op.Errors, status)
			}
		}
	}
	op.Security = nil
	if a.People || len(a.Roles) > 0 {
		op.Security = append(op.Security, map[string][]string{"bearer": {}})
	}
	if len(a.Scopes) > 0 {
		op.Security = append(op.Security, map[string][]string{"apiKey": a.Scopes})
	}
	return op
}

func mapWith(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

// Register registers a huma operation that admits a: every route of the
// API goes through it, so none can be registered without saying who may
// call it.
func Register[I, O any](api huma.API, op huma.Operation, a Access, handler func(context.Context, *I) (*O, error)) {
	huma.Register(api, Declare(op, a), handler)
}

// AccessOf returns the Access declared on op.
func AccessOf(op *huma.Operation) (Access, bool) {
	a, ok := op.Metadata[accessKey].(Access)
	return a, ok
}

// CheckDeclared returns an error naming every operation of doc that
// declares no Access, so a server that registered one with huma.Register
// directly refuses to start.
func CheckDeclared(doc *huma.OpenAPI) error {
	var missing []string
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op == nil {
				continue
			}
			if _, ok := AccessOf(op); !ok {
				missing = append(missing, op.Method+" "+path)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("auth: operations without an access declaration (register them with auth.Register): %s", strings.Join(missing, ", "))
	}
	return nil
}

// AccessMiddleware is the huma middleware that enforces every operation's
// Access before its input is even parsed: 401 without a valid credential
// (or the reason the credential was rejected), 403 for a caller the
// declaration does not admit. An operation without a declaration is
// refused too: CheckDeclared keeps such a server from starting.
func AccessMiddleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		a, ok := AccessOf(ctx.Operation())
		if !ok {
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "operation without an access declaration",
				fmt.Errorf("auth: %s %s declares no access", ctx.Operation().Method, ctx.Operation().Path))
			return
		}
		if a.Public {
			next(ctx)
			return
		}
		p, err := Require(ctx.Context())
		if err == nil && !a.Admits(p) {
			err = a.refusal(p)
		}
		if err != nil {
			status := http.StatusUnauthorized
			if e, ok := errs.As(err); ok {
				status = httpx.Status(e.Kind)
			}
			_ = huma.WriteErr(api, ctx, status, err.Error(), err)
			return
		}
		next(ctx)
	}
}
