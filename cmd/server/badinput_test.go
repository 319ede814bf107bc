package main

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/questline/questline/auth"
)

// TestBadInput: every malformed, unauthenticated, unauthorised or
// cross-tenant request gets the right 4xx problem+json, and nothing changes.
func TestBadInput(t *testing.T) {
	s := startServer(t, nil)
	ch, board := s.setupSlice("acme")
	alice := s.token("alice", "acme")
	mgr := s.token("boss", "acme", auth.Manager)
	otherMgr := s.token("boss", "globex", auth.Manager)
	otherPlayer := s.token("carol", "globex")

	noneTok := unsignedToken(t)
	expired, _ := auth.Mint([]byte(testSecret), "alice", "acme", nil, -time.Hour)
	wrongKey, _ := auth.Mint([]byte("another-secret-another-secret-xx"), "alice", "acme", nil, time.Hour)
	hsConfusion := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims{"sub": "alice", "tid": "acme", "exp": time.Now().Add(time.Hour).Unix()})
	hs384, _ := hsConfusion.SignedString([]byte(testSecret))

	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"malformed json", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":`}, 400, ""},
		{"unknown field", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":"share","bogus":1}`}, 422, "validation-failed"},
		{"wrong type", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":42}`}, 422, "validation-failed"},
		{"unknown event type", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":"teleport"}`}, 422, "unknown-event-type"},
		{"trusted type from player", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":"purchase"}`}, 403, "event-type-not-allowed"},
		{"event for someone else", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":"share","user_id":"bob"}`}, 403, "forbidden"},
		{"oversized body", req{method: "POST", path: "/v1/events", token: alice, body: `{"type":"share","props":{"x":"` + strings.Repeat("a", 70000) + `"}}`, oversized: true}, 413, "body-too-large"},
		{"missing auth", req{method: "POST", path: "/v1/events", body: `{"type":"share"}`}, 401, "unauthorized"},
		{"alg none", req{method: "POST", path: "/v1/events", token: noneTok, body: `{"type":"share"}`}, 401, ""},
		{"expired token", req{method: "POST", path: "/v1/events", token: expired, body: `{"type":"share"}`}, 401, ""},
		{"wrong signing key", req{method: "POST", path: "/v1/events", token: wrongKey, body: `{"type":"share"}`}, 401, ""},
		{"unpinned alg HS384", req{method: "POST", path: "/v1/events", token: hs384, body: `{"type":"share"}`}, 401, ""},
		{"garbage token", req{method: "GET", path: "/v1/me/wallet", token: "not.a.jwt"}, 401, ""},
		{"player creates challenge", req{method: "POST", path: "/v1/challenges", token: alice, body: map[string]any{"name": "x", "event_type": "share", "target": 1}}, 403, "forbidden"},
		{"player creates board", req{method: "POST", path: "/v1/leaderboards", token: alice, body: map[string]any{"name": "x"}}, 403, "forbidden"},
		{"player publishes", req{method: "POST", path: "/v1/challenges/" + ch + "/publish", token: alice}, 403, "forbidden"},
		{"other tenant's challenge", req{method: "GET", path: "/v1/challenges/" + ch, token: otherMgr}, 404, "challenge-not-found"},
		{"other tenant archives", req{method: "POST", path: "/v1/challenges/" + ch + "/archive", token: otherMgr}, 404, "challenge-not-found"},
		{"other tenant's board", req{method: "GET", path: "/v1/leaderboards/" + board + "/top", token: otherPlayer}, 404, "board-not-found"},
		{"bad challenge target", req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": "x", "event_type": "share", "target": 0}}, 422, "bad-challenge"},
		{"challenge on unknown event", req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": "x", "event_type": "nope", "target": 1}}, 422, "unknown-event-type"},
		{"bad window", req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{"name": "x", "window": "hourly"}}, 422, "validation-failed"},
		{"bad limit", req{method: "GET", path: "/v1/leaderboards/" + board + "/top?limit=100000", token: alice}, 422, "validation-failed"},
		{"bad period", req{method: "GET", path: "/v1/leaderboards/" + board + "/top?window=yesterday", token: alice}, 400, "bad-period"},
		{"bad cursor", req{method: "GET", path: "/v1/leaderboards/" + board + "/top?cursor=-4", token: alice}, 400, "bad-cursor"},
		{"unknown route", req{method: "GET", path: "/v1/nothing-here", token: alice}, 404, "not-found"},
		{"edit rules of published", req{method: "PATCH", path: "/v1/challenges/" + ch, token: mgr, body: map[string]any{
			"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "share", "target": 1}}}}}, 409, "challenge-published"},
		{"bad rule field", req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": "x",
			"rule": map[string]any{"goals": []any{map[string]any{"kind": "sum", "event_type": "purchase", "target": 5}}}}}, 422, "bad-rule"},
		{"player api keys", req{method: "GET", path: "/v1/api-keys", token: alice}, 403, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(tc.r)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			code := resp.problemType(t)
			if tc.code != "" && code != tc.code {
				t.Fatalf("problem type %q, want %q: %s", code, tc.code, resp.Body)
			}
		})
	}
	// Nothing above changed state.
	if w := s.wallet(alice); w.Balance != 0 {
		t.Fatalf("wallet = %+v after rejected requests", w)
	}
	if top := s.top(alice, board); top.Total != 0 {
		t.Fatalf("board = %+v after rejected requests", top)
	}
	var c struct {
		Rule struct{ Goals []struct{ Target int64 } }
	}
	s.must(200, req{method: "GET", path: "/v1/challenges/" + ch, token: mgr}).json(t, &c)
	if c.Rule.Goals[0].Target != 3 {
		t.Fatalf("challenge target changed to %d", c.Rule.Goals[0].Target)
	}
}

func unsignedToken(t *testing.T) string {
	t.Helper()
	enc := base64.RawURLEncoding
	claims := `{"sub":"alice","tid":"acme","roles":["admin"],"exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims)) + "."
}
