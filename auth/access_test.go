package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
)

func TestAdmits(t *testing.T) {
	person := func(roles ...Role) Principal { return Principal{Tenant: "t", Subject: "u", Roles: roles} }
	key := func(scopes ...string) Principal {
		return Principal{Tenant: "t", Subject: "key:1", APIKey: true, Scopes: scopes}
	}
	tests := []struct {
		name string
		a    Access
		p    Principal
		want bool
	}{
		{"public, key", Public, key(), true},
		{"people, roleless person", People, person(), true},
		{"people, key", People, key(ScopeManage, ScopeEventsWrite), false},
		{"readers, manage key", Readers, key(ScopeManage), true},
		{"readers, events key", Readers, key(ScopeEventsWrite), false},
		{"senders, events key", Senders, key(ScopeEventsWrite), true},
		{"senders, manage key", Senders, key(ScopeManage), false},
		{"managers, manager", Managers, person(Manager), true},
		{"managers, admin", Managers, person(Admin), true},
		{"managers, moderator", Managers, person(Moderator), false},
		{"managers, player", Managers, person(Player), false},
		{"managers, manage key", Managers, key(ScopeManage), true},
		{"managers, events key", Managers, key(ScopeEventsWrite), false},
		{"admins, manager", Admins, person(Manager), false},
		{"admins, manage key", Admins, key(ScopeManage), false},
		{"admins, admin", Admins, person(Admin), true},
		// A person never passes on scopes, nor a key on roles.
		{"person holding scopes", Managers, Principal{Tenant: "t", Subject: "u", Scopes: []string{ScopeManage}}, false},
		{"key holding roles", Admins, Principal{Tenant: "t", Subject: "key:1", APIKey: true, Roles: []Role{Admin}}, false},
	}
	for _, tc := range tests {
		if got := tc.a.Admits(tc.p); got != tc.want {
			t.Errorf("%s: Admits = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type pingOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func ping(context.Context, *struct{}) (*pingOutput, error) {
	out := &pingOutput{}
	out.Body.OK = true
	return out, nil
}

func TestAccessMiddleware(t *testing.T) {
	_, api := humatest.New(t)
	api.UseMiddleware(AccessMiddleware(api))
	Register(api, huma.Operation{OperationID: "m", Method: http.MethodGet, Path: "/m"}, Managers, ping)
	huma.Register(api, huma.Operation{OperationID: "undeclared", Method: http.MethodGet, Path: "/u"}, ping)
	with := func(p Principal) context.Context { return WithPrincipal(context.Background(), p) }
	tests := []struct {
		name string
		ctx  context.Context
		path string
		want int
	}{
		{"anonymous", context.Background(), "/m", http.StatusUnauthorized},
		{"player", with(Principal{Tenant: "t", Subject: "u", Roles: []Role{Player}}), "/m", http.StatusForbidden},
		{"events key", with(Principal{Tenant: "t", Subject: "key:1", APIKey: true, Scopes: []string{ScopeEventsWrite}}), "/m", http.StatusForbidden},
		{"manage key", with(Principal{Tenant: "t", Subject: "key:1", APIKey: true, Scopes: []string{ScopeManage}}), "/m", http.StatusOK},
		{"manager", with(Principal{Tenant: "t", Subject: "u", Roles: []Role{Manager}}), "/m", http.StatusOK},
		{"undeclared, even for an admin", with(Principal{Tenant: "t", Subject: "u", Roles: []Role{Admin}}), "/u", http.StatusInternalServerError},
	}
	for _, tc := range tests {
		if resp := api.DoCtx(tc.ctx, http.MethodGet, tc.path); resp.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.Code, resp.Body, tc.want)
		}
	}
	err := CheckDeclared(api.OpenAPI())
	if err == nil || !strings.Contains(err.Error(), "GET /u") || strings.Contains(err.Error(), "GET /m") {
		t.Fatalf("CheckDeclared = %v, want it to name GET /u only", err)
	}
	doc := api.OpenAPI().Paths["/m"].Get
	if _, ok := doc.Extensions[AccessExtension]; !ok || !strings.Contains(doc.Description, "Access: the manager or admin role; API keys with the manage scope.") {
		t.Errorf("OpenAPI text of /m lacks its access: %+v %q", doc.Extensions, doc.Description)
	}
}

func TestDeclareNobody(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("declaring an operation that admits nobody did not panic")
		}
	}()
	Declare(huma.Operation{OperationID: "x"}, Access{})
}
