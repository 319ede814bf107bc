package main

import (
	"strings"
	"testing"

	"github.com/questline/questline/auth"
)

// TestStaffChangesAudited: every change a manager or admin makes through
// the API is in the audit log, with who, what and on which object, and
// nothing else is: not reads, not refused or failed calls, not what
// players do.
func TestStaffChangesAudited(t *testing.T) {
	s := startServer(t, nil)
	mgr, admin, ann := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin), s.token("ann", "acme")
	ch := s.publish(mgr, map[string]any{"name": "Share", "event_type": "share", "target": 3, "reward_points": 50})
	s.must(200, req{method: "PATCH", path: "/v1/challenges/" + ch, token: mgr, body: map[string]any{"name": "Share more"}})
	s.must(200, req{method: "PUT", path: "/v1/users/user%40example.com/attributes", token: mgr, body: map[string]any{"tier": "gold", "segments": []string{}}})
	var key struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/api-keys", token: admin,
		body: map[string]any{"name": "pos", "scopes": []string{"events:write"}}}).json(t, &key)
	// None of these is recorded: reads, a refused change, an invalid one,
	// a player's.
	s.must(200, req{method: "GET", path: "/v1/challenges/" + ch, token: mgr})
	s.must(403, req{method: "POST", path: "/v1/challenges/" + ch + "/archive", token: ann})
	s.must(422, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": ""}})
	s.event(ann, "s1", map[string]any{"type": "share"})

	var log struct {
		Entries []struct {
			Actor, Action, Subject string
			Detail                 map[string]string
		} `json:"entries"`
	}
	s.must(200, req{method: "GET", path: "/v1/audit?limit=100", token: mgr}).json(t, &log)
	var got []string
	for _, e := range log.Entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Subject+" "+e.Detail["status"])
	}
	want := []string{ // newest first
		"root create-api-key api-keys 201",
		"boss put-user-attributes user:user@example.com 200",
		"boss update-challenge challenge:" + ch + " 200",
		"boss publish-challenge challenge:" + ch + " 200",
		"boss create-challenge challenges 201",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
