package auth

import (
	"context"
	"testing"

	"github.com/questline/questline/internal/errs"
)

func TestHas(t *testing.T) {
	tests := []struct {
		roles []Role
		r     Role
		want  bool
	}{
		{[]Role{Admin}, Manager, true},
		{[]Role{Admin}, Moderator, true},
		{[]Role{Admin}, Player, true},
		{[]Role{Manager}, Moderator, false},
		{[]Role{Manager}, Admin, false},
		{[]Role{Moderator}, Manager, false},
		{[]Role{Player}, Player, true},
		{nil, Player, false},
	}
	for _, tc := range tests {
		if got := (Principal{Roles: tc.roles}).Has(tc.r); got != tc.want {
			t.Errorf("%v.Has(%s) = %v", tc.roles, tc.r, got)
		}
	}
	key := Principal{APIKey: true, Scopes: []string{ScopeManage}}
	if !key.HasScope(ScopeManage) || key.HasScope(ScopeEventsWrite) {
		t.Error("API key scopes wrong")
	}
	if (Principal{Scopes: []string{ScopeManage}}).HasScope(ScopeManage) {
		t.Error("a person holds a scope")
	}
}

func TestRequire(t *testing.T) {
	bg := context.Background()
	expired := errs.New(errs.Unauthorized, "token-expired", "the token has expired")
	with := func(p Principal) context.Context { return WithPrincipal(bg, p) }
	player := with(Principal{Tenant: "t", Subject: "u", Roles: []Role{Player}})
	manager := with(Principal{Tenant: "t", Subject: "m", Roles: []Role{Manager}})
	admin := with(Principal{Tenant: "t", Subject: "a", Roles: []Role{Admin}})
	roleless := with(Principal{Tenant: "t", Subject: "r", Roles: []Role{}})
	key := with(Principal{Tenant: "t", Subject: "key:1", APIKey: true, Scopes: []string{ScopeManage}})
	empty := with(Principal{})

	tests := []struct {
		name  string
		ctx   context.Context
		roles []Role
		code  string // "" = allowed
	}{
		{"anonymous", bg, nil, "unauthorized"},
		{"anonymous with role", bg, []Role{Player}, "unauthorized"},
		{"rejected credential", withCredentialError(bg, expired), []Role{Manager}, "token-expired"},
		{"empty principal", empty, nil, "unauthorized"},
		{"player, any role", player, nil, ""},
		{"player as player", player, []Role{Player}, ""},
		{"player as manager", player, []Role{Manager}, "forbidden"},
		{"manager as moderator", manager, []Role{Moderator}, "forbidden"},
		{"manager as moderator or manager", manager, []Role{Moderator, Manager}, ""},
		{"admin as moderator", admin, []Role{Moderator}, ""},
		{"role-less, any role", roleless, nil, ""},
		{"role-less as player", roleless, []Role{Player}, "forbidden"},
		{"API key, any role", key, nil, ""},
		{"API key as manager", key, []Role{Manager}, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Require(tc.ctx, tc.roles...)
			if tc.code == "" {
				if err != nil || p.Tenant != "t" {
					t.Fatalf("Require = %+v, %v", p, err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != tc.code {
				t.Fatalf("Require error = %v, want %s", err, tc.code)
			}
			want := errs.Unauthorized
			if tc.code == "forbidden" {
				want = errs.Forbidden
			}
			if e.Kind != want {
				t.Fatalf("Require error kind = %v, want %v", e.Kind, want)
			}
		})
	}
	if _, err := Require(withCredentialError(bg, expired)); err != expired {
		t.Fatalf("the credential error is not passed on as is: %v", err)
	}
}
