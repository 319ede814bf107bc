package main

import (
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

// busSettle is how long the test gives a Redis pub/sub invalidation to
// reach the other node: far below the caches' 2 s TTL, so a pass shows
// the bus, not the TTL, made the change visible.
const busSettle = 200 * time.Millisecond

// TestDefinitionChangesReachOtherNodes runs two nodes on one SQLite file
// and one Redis: a challenge published on node A counts on node B's next
// event, though B had just cached the tenant's challenges; so does a badge
// published on A; a board created on A counts B's next credit; raising
// max_completions on A reopens the challenge on B for a player who had
// reached the old cap; and a display name set on A shows on B's board.
func TestDefinitionChangesReachOtherNodes(t *testing.T) {
	url := redistest.URL(t)
	a := startServer(t, map[string]string{"REDIS_URL": url})
	b := startServer(t, map[string]string{"REDIS_URL": url, "QL_DATA_DIR": a.dataDir})
	mgr := a.token("boss", "acme", auth.Manager)
	ann := a.token("ann", "acme")
	post := func(s *testServer, key string, body map[string]any) eventResult {
		t.Helper()
		var r eventResult
		s.must(200, req{method: "POST", path: "/v1/events", token: ann, body: body,
			header: map[string]string{"Idempotency-Key": key}}).json(t, &r)
		return r
	}

	post(b, "warm", map[string]any{"type": "share"}) // B caches: no challenges
	share := a.publish(mgr, map[string]any{"name": "Share once", "event_type": "share", "target": 1, "reward_points": 10})
	time.Sleep(busSettle)
	if r := post(b, "s1", map[string]any{"type": "share"}); len(r.Completions) != 1 || r.Completions[0].ChallengeID != share {
		t.Fatalf("node B's first event after the publish on A = %+v", r)
	}
	// B has the tenant's badges cached too (none counts views); a badge
	// published on A awards on B's next view.
	viewer := a.badge(mgr, map[string]any{"name": "First view", "rule": map[string]any{"goals": []any{
		map[string]any{"kind": "count", "event_type": "view", "target": 1}}}})
	time.Sleep(busSettle)
	post(b, "v1", map[string]any{"type": "view"})
	if got := b.myBadges(ann)[viewer]; len(got.Awards) != 1 {
		t.Fatalf("badge published on A after node B's view = %+v, want one award", got)
	}

	// B has its boards cached (it credited the 10 points); a board created
	// on A must count B's next credit.
	var board struct{ ID string }
	a.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{
		"name": "Points", "window": "all_time",
	}}).json(t, &board)

	weekly := a.publish(mgr, map[string]any{"name": "Check in", "reward_points": 5, "max_completions": 1,
		"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "checkin", "target": 1}},
			"window": map[string]any{"rolling": "7d"}}})
	time.Sleep(busSettle)
	if r := post(b, "c1", map[string]any{"type": "checkin"}); len(r.Completions) != 1 {
		t.Fatalf("first check-in = %+v", r)
	}
	a.built(mgr, board.ID) // the build folds the 10 points from before the board
	if top := b.top(ann, board.ID); len(top.Entries) != 1 || top.Entries[0].Score != 15 {
		t.Fatalf("board created on A after node B's credit = %+v, want ann at 15", top)
	}
	if r := post(b, "c2", map[string]any{"type": "checkin"}); len(r.Completions) != 0 {
		t.Fatalf("check-in at the cap = %+v", r)
	}
	a.must(200, req{method: "PATCH", path: "/v1/challenges/" + weekly, token: mgr, body: map[string]any{"max_completions": 2}})
	time.Sleep(busSettle)
	if r := post(b, "c3", map[string]any{"type": "checkin"}); len(r.Completions) != 1 || r.Completions[0].ChallengeID != weekly {
		t.Fatalf("node B's check-in after the cap was raised on A = %+v", r)
	}
	if r := post(a, "c4", map[string]any{"type": "checkin"}); len(r.Completions) != 0 {
		t.Fatalf("check-in at the new cap = %+v", r)
	}
	if p := b.mine(ann, weekly); p.Completions != 2 {
		t.Fatalf("completions = %+v", p)
	}

	// Display names: B caches ann's (none, then "Ann"); a rename on A
	// shows on B's board at once.
	top := "/v1/leaderboards/" + board.ID + "/top"
	if p := b.page(ann, top); len(p.Entries) != 1 || p.Entries[0].Name != "" {
		t.Fatalf("board before ann has a profile = %+v", p)
	}
	for _, name := range []string{"Ann", "Ann B."} {
		a.must(200, req{method: "PUT", path: "/v1/me/profile", token: ann, body: map[string]any{"name": name}})
		time.Sleep(busSettle)
		if p := b.page(ann, top); len(p.Entries) != 1 || p.Entries[0].Name != name {
			t.Fatalf("node B's board after ann became %q on A = %+v", name, p)
		}
	}
}

// TestRaisedCapReopensChallenge: on one node, a player who reached
// max_completions and keeps sending events counts again once the cap is
// raised (the "finished" shortcut must not outlive the definition).
func TestRaisedCapReopensChallenge(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	ann := s.token("ann", "acme")
	id := s.publish(mgr, map[string]any{"name": "Check in", "reward_points": 5, "max_completions": 1,
		"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "checkin", "target": 1}},
			"window": map[string]any{"rolling": "7d"}}})
	s.event(ann, "c1", map[string]any{"type": "checkin"})
	s.event(ann, "c2", map[string]any{"type": "checkin"}) // at the cap
	s.must(200, req{method: "PATCH", path: "/v1/challenges/" + id, token: mgr, body: map[string]any{"max_completions": 3}})
	s.event(ann, "c3", map[string]any{"type": "checkin"})
	s.event(ann, "c4", map[string]any{"type": "checkin"})
	if p := s.mine(ann, id); p.Completions != 3 {
		t.Fatalf("completions after raising the cap = %+v", p)
	}
	if w := s.wallet(ann); w.Balance != 15 {
		t.Fatalf("wallet = %+v, want three rewards", w)
	}
}
