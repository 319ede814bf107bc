package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/questline/questline/auth"
)

type myBadge struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Earned   bool   `json:"earned"`
	NextTier string `json:"next_tier"`
	Awards   []struct {
		Tier    string `json:"tier"`
		Edition int64  `json:"edition"`
	} `json:"awards"`
	Progress []goalPr `json:"progress"`
}

func (s *testServer) badge(mgr string, def map[string]any) string {
	s.t.Helper()
	var b struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/badges", token: mgr, body: def}).json(s.t, &b)
	s.must(200, req{method: "POST", path: "/v1/badges/" + b.ID + "/publish", token: mgr})
	return b.ID
}

func (s *testServer) myBadges(token string) map[string]myBadge {
	s.t.Helper()
	var out struct{ Badges []myBadge }
	s.must(200, req{method: "GET", path: "/v1/me/badges", token: token}).json(s.t, &out)
	m := map[string]myBadge{}
	for _, b := range out.Badges {
		m[b.ID] = b
	}
	return m
}

// TestBadges: criteria are rules over system events: tiers over
// challenge.completed, "lifetime points" over points.earned, a badge as a
// challenge reward, a secret badge; unlocks are pushed live and shown on
// the public showcase.
func TestBadges(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			tiered := s.badge(mgr, map[string]any{"name": "Challenger", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "challenge.completed", "target": 1}}},
				"tiers": []any{map[string]any{"name": "bronze", "target": 1}, map[string]any{"name": "silver", "target": 2}, map[string]any{"name": "gold", "target": 3}}})
			points := s.badge(mgr, map[string]any{"name": "100 lifetime points", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "sum", "event_type": "points.earned", "prop": "amount", "target": 100}}}})
			secret := s.badge(mgr, map[string]any{"name": "Night owl", "hidden": true, "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "view", "target": 1, "filters": []any{map[string]any{"prop": "page", "op": "eq", "value": "secret"}}}}}})
			reward := s.badge(mgr, map[string]any{"name": "Liker", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "like", "target": 1000}}}})
			for _, typ := range []string{"share", "visit"} {
				s.publish(mgr, map[string]any{"name": typ, "event_type": typ, "target": 1, "reward_points": 50})
			}
			s.publish(mgr, map[string]any{"name": "like", "event_type": "like", "target": 1, "reward": map[string]any{"badge_id": reward}})

			ann := s.token("ann", "acme")
			ws := s.dial(ann, "")
			if _, seen := s.myBadges(ann)[secret]; seen {
				t.Fatal("a hidden badge is listed before it is earned")
			}
			s.event(ann, "1", map[string]any{"type": "share"})
			got := s.myBadges(ann)
			if b := got[tiered]; !b.Earned || len(b.Awards) != 1 || b.Awards[0].Tier != "bronze" || b.NextTier != "silver" ||
				len(b.Progress) != 1 || b.Progress[0].Current != 1 || b.Progress[0].Target != 2 {
				t.Fatalf("tiered after one challenge = %+v", b)
			}
			if b := got[points]; b.Earned || b.Progress[0].Current != 50 {
				t.Fatalf("points badge after 50 points = %+v", b)
			}
			s.event(ann, "2", map[string]any{"type": "visit"})
			s.event(ann, "3", map[string]any{"type": "like"})
			s.event(ann, "4", map[string]any{"type": "view", "props": map[string]any{"page": "secret"}})
			got = s.myBadges(ann)
			if b := got[tiered]; len(b.Awards) != 3 || b.Awards[0].Tier != "gold" {
				t.Fatalf("tiered after three challenges = %+v", b)
			}
			for name, id := range map[string]string{"points": points, "reward": reward, "secret": secret} {
				if !got[id].Earned {
					t.Fatalf("%s badge not earned: %+v", name, got[id])
				}
			}
			frames := readFrames(t, ws, 6, "badge.unlocked") // bronze, silver, gold, points, reward, secret
			seen := map[string]bool{}
			for _, f := range frames {
				var d struct {
					BadgeID string `json:"badge_id"`
					Tier    string `json:"tier"`
				}
				_ = json.Unmarshal(f.Data, &d)
				seen[d.BadgeID+"/"+d.Tier] = true
			}
			if len(seen) != 6 {
				t.Fatalf("unlock frames = %v", seen)
			}
			var show struct {
				Badges []struct {
					BadgeID string `json:"badge_id"`
					Tier    string `json:"tier"`
				}
			}
			s.must(200, req{method: "GET", path: "/v1/users/ann/badges", token: s.token("bob", "acme")}).json(t, &show)
			if len(show.Badges) != 4 {
				t.Fatalf("showcase = %+v", show)
			}
			// Replaying every event changes nothing.
			for i, typ := range []string{"share", "visit", "like"} {
				s.event(ann, fmt.Sprint(i+1), map[string]any{"type": typ})
			}
			if b := s.myBadges(ann)[tiered]; len(b.Awards) != 3 {
				t.Fatalf("after replays = %+v", b)
			}
		})
	}
}

// TestLimitedEdition: ten players race for a badge limited to three; exactly
// three get it, numbered 1 to 3.
func TestLimitedEdition(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.badge(mgr, map[string]any{"name": "First three", "limit": 3, "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "checkin", "target": 1}}}})
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Go(func() {
					tok := s.token(fmt.Sprint("p", i), "acme")
					for c := range 3 { // with duplicates of the same event
						wg.Go(func() { s.event(tok, "k", map[string]any{"type": "checkin"}) })
						_ = c
					}
				})
			}
			wg.Wait()
			editions := map[int64]bool{}
			for i := range 10 {
				for _, a := range s.myBadges(s.token(fmt.Sprint("p", i), "acme"))[id].Awards {
					if editions[a.Edition] {
						t.Fatalf("edition %d awarded twice", a.Edition)
					}
					editions[a.Edition] = true
				}
			}
			if len(editions) != 3 || !editions[1] || !editions[2] || !editions[3] {
				t.Fatalf("editions = %v", editions)
			}
		})
	}
}
