package badges_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/internal/httpx"
)

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	_, api := humatest.New(t)
	httpx.InstallErrors(slog.New(slog.DiscardHandler))
	api.UseMiddleware(auth.AccessMiddleware(api))
	badges.Routes(api, f.svc)
	as := func(user string, roles ...auth.Role) context.Context {
		return auth.WithPrincipal(context.Background(), auth.Principal{Tenant: tenant, Subject: user, Roles: roles})
	}
	manager, player := as("m1", auth.Manager), as("u1", auth.Player)
	call := func(ctx context.Context, method, path string, body any, want int) map[string]any {
		t.Helper()
		var args []any
		if body != nil {
			args = append(args, strings.NewReader(body.(string)))
		}
		resp := api.DoCtx(ctx, method, path, args...)
		if resp.Code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.Code, resp.Body, want)
		}
		var out map[string]any
		_ = json.Unmarshal(resp.Body.Bytes(), &out)
		return out
	}
	create := func(body string) string {
		t.Helper()
		return call(manager, http.MethodPost, "/v1/badges", body, http.StatusCreated)["id"].(string)
	}
	likes := `"rule":{"goals":[{"kind":"count","event_type":"like","target":1}]}`

	call(player, http.MethodPost, "/v1/badges", `{"name":"x",`+likes+`}`, http.StatusForbidden)
	bad := call(manager, http.MethodPost, "/v1/badges", `{"name":"x","rule":{"goals":[{"kind":"count","event_type":"like","target":0}]}}`, http.StatusUnprocessableEntity)
	if errs, _ := bad["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["location"] != "body.rule.goals[0].target" {
		t.Errorf("bad target: %v", bad)
	}
	call(manager, http.MethodPost, "/v1/badges", `{"name":"x","rule":{"goals":[{"kind":"count","event_type":"like","target":1,"filter":[]}]}}`, http.StatusUnprocessableEntity)
	call(manager, http.MethodPost, "/v1/badges", `{"name":"x","colour":"red",`+likes+`}`, http.StatusUnprocessableEntity)

	secret := create(`{"name":"Secret","hidden":true,` + likes + `}`)
	open := create(`{"name":"Open","image_url":"https://cdn.example.com/o.png","rule":{"goals":[{"kind":"count","event_type":"like","target":2}]},` +
		`"tiers":[{"name":"bronze","target":2},{"name":"gold","target":4}]}`)
	draft := create(`{"name":"Draft",` + likes + `}`)
	for _, id := range []string{secret, open} {
		call(manager, http.MethodPost, "/v1/badges/"+id+"/publish", nil, http.StatusOK)
	}

	list := call(player, http.MethodGet, "/v1/badges", nil, http.StatusOK)["badges"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != open {
		t.Errorf("a player lists %v, want only the open badge", list)
	}
	if list := call(manager, http.MethodGet, "/v1/badges?limit=2", nil, http.StatusOK); len(list["badges"].([]any)) != 2 || list["next_cursor"] == nil {
		t.Errorf("a manager's first page: %v", list)
	}
	call(player, http.MethodGet, "/v1/badges/"+secret, nil, http.StatusNotFound)
	call(player, http.MethodGet, "/v1/badges/"+draft, nil, http.StatusNotFound)
	call(manager, http.MethodGet, "/v1/badges/"+secret, nil, http.StatusOK)
	call(manager, http.MethodPatch, "/v1/badges/"+open, `{"rule":{"goals":[{"kind":"count","event_type":"like","target":3}]}}`, http.StatusConflict)
	call(manager, http.MethodPatch, "/v1/badges/"+open, `{"name":"Open house"}`, http.StatusOK)

	f.handle(event("u1", "like", nil, start))
	f.handle(event("u1", "like", nil, start))
	call(player, http.MethodGet, "/v1/badges/"+secret, nil, http.StatusOK)
	mine := call(player, http.MethodGet, "/v1/me/badges", nil, http.StatusOK)["badges"].([]any)
	if len(mine) != 2 {
		t.Fatalf("my badges: %v", mine)
	}
	for _, m := range mine {
		m := m.(map[string]any)
		if m["earned"] != true || m["id"] == open && (m["next_tier"] != "gold" || m["progress"] == nil) {
			t.Errorf("my badge %v", m)
		}
	}
	show := call(as("u2", auth.Player), http.MethodGet, "/v1/users/u1/badges", nil, http.StatusOK)["badges"].([]any)
	if len(show) != 2 {
		t.Fatalf("showcase %v", show)
	}
	for _, s := range show {
		if _, private := s.(map[string]any)["progress"]; private {
			t.Errorf("the showcase tells progress: %v", s)
		}
	}
}
