package main

import (
	"context"
	"strings"
	"testing"

	"github.com/questline/questline/auth"
)

// TestRetention: a manager reads the tenant's retention, an admin sets it
// but never below what a published rolling challenge reads, and `server
// prune` runs beside the server with a progress bar.
func TestRetention(t *testing.T) {
	s := startServer(t, nil)
	mgr, admin := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin)
	var set struct {
		Days, MinimumDays, EffectiveDays int
		Default                          bool
	}
	read := func() {
		t.Helper()
		var raw map[string]any
		s.must(200, req{method: "GET", path: "/v1/retention", token: mgr}).json(t, &raw)
		set.Days, set.MinimumDays, set.EffectiveDays = int(raw["days"].(float64)), int(raw["minimum_days"].(float64)), int(raw["effective_days"].(float64))
		set.Default = raw["default"].(bool)
	}
	read()
	if set.Days != 400 || !set.Default || set.MinimumDays != 0 || set.EffectiveDays != 400 {
		t.Fatalf("default setting %+v", set)
	}
	s.publish(mgr, map[string]any{"name": "Monthly regular", "reward_points": 10,
		"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "checkin", "target": 5}},
			"window": map[string]any{"rolling": "30d"}}})
	s.event(s.token("ann", "acme"), "k1", map[string]any{"type": "checkin"})
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		status int
		typ    string
	}{
		{"manager may not set it", mgr, map[string]any{"days": 90}, 403, ""},
		{"shorter than the rolling window", admin, map[string]any{"days": 30}, 422, "retention-too-short"},
		{"zero", admin, map[string]any{"days": 0}, 422, ""},
		{"not a number", admin, map[string]any{"days": "many"}, 422, ""},
		{"the window and its first hour", admin, map[string]any{"days": 31}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.must(tc.status, req{method: "PUT", path: "/v1/retention", token: tc.token, body: tc.body})
			if tc.typ != "" && r.problemType(t) != tc.typ {
				t.Errorf("problem %s", r.Body)
			}
		})
	}
	read()
	if set.Days != 31 || set.Default || set.MinimumDays != 31 || set.EffectiveDays != 31 {
		t.Fatalf("after setting 31 days: %+v", set)
	}
	var out strings.Builder
	if code := run(context.Background(), []string{"server", "prune", "--tenant", "acme"}, s.getenv, &out); code != 0 {
		t.Fatalf("prune exited %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "100%") || !strings.Contains(out.String(), "pruned 0 records") {
		t.Fatalf("prune printed %q", out.String())
	}
}
