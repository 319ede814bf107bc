package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

// playerChallenge is one entry of GET /me/challenges.
type playerChallenge struct {
	ID          string   `json:"id"`
	State       string   `json:"state"`
	Period      string   `json:"period"`
	Current     float64  `json:"current"`
	Target      float64  `json:"target"`
	Completions int64    `json:"completions"`
	Claimable   int64    `json:"claimable"`
	ResetsAt    *string  `json:"resets_at"`
	SecondsLeft *int64   `json:"seconds_left"`
	Goals       []goalPr `json:"goals"`
}

type goalPr struct {
	ID      string  `json:"id"`
	Current float64 `json:"current"`
	Target  float64 `json:"target"`
	Met     bool    `json:"met"`
}

// publish creates and publishes a challenge from def, returning its id.
func (s *testServer) publish(mgr string, def map[string]any) string {
	s.t.Helper()
	var ch struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: def}).json(s.t, &ch)
	s.must(200, req{method: "POST", path: "/v1/challenges/" + ch.ID + "/publish", token: mgr})
	return ch.ID
}

// mine returns the player's view of one challenge.
func (s *testServer) mine(token, id string) playerChallenge {
	s.t.Helper()
	var out struct{ Challenges []playerChallenge }
	s.must(200, req{method: "GET", path: "/v1/me/challenges", token: token}).json(s.t, &out)
	for _, c := range out.Challenges {
		if c.ID == id {
			return c
		}
	}
	return playerChallenge{}
}

// apiKey creates an API key able to send trusted events.
func (s *testServer) apiKey(tenant string) string {
	s.t.Helper()
	var k struct{ Key string }
	s.must(201, req{method: "POST", path: "/v1/api-keys", token: s.token("root", tenant, auth.Admin),
		body: map[string]any{"name": "pos", "scopes": []string{"events:write"}}}).json(s.t, &k)
	return k.Key
}

func (s *testServer) trusted(key, user, idem string, body map[string]any) eventResult {
	s.t.Helper()
	body["user_id"] = user
	var r eventResult
	s.must(200, req{method: "POST", path: "/v1/events", body: body,
		header: map[string]string{"X-API-Key": key, "Idempotency-Key": idem}}).json(s.t, &r)
	return r
}

// TestChallengeGoals: several goals (a sum of a prop with a filter, and
// distinct stores) must all be met; sums are exact; progress per goal is
// reported and pushed live.
func TestChallengeGoals(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.publish(mgr, map[string]any{"name": "Spend and explore", "reward": map[string]any{"points": 100},
				"rule": map[string]any{"goals": []any{
					map[string]any{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 0.3,
						"filters": []any{map[string]any{"prop": "currency", "op": "in", "values": []any{"EUR", "USD"}}}, "label": "Spend 0.30"},
					map[string]any{"kind": "distinct", "event_type": "visit", "prop": "store", "target": 2, "label": "Visit 2 stores"},
				}}})
			key := s.apiKey("acme")
			ann := s.token("ann", "acme")
			ws := s.dial(ann, "")
			s.trusted(key, "ann", "p1", map[string]any{"type": "purchase", "props": map[string]any{"amount": 0.1, "currency": "EUR"}})
			s.trusted(key, "ann", "p2", map[string]any{"type": "purchase", "props": map[string]any{"amount": 5, "currency": "GBP"}}) // filtered out
			s.trusted(key, "ann", "p3", map[string]any{"type": "purchase", "props": map[string]any{"amount": 0.2, "currency": "USD"}})
			s.event(ann, "v1", map[string]any{"type": "visit", "props": map[string]any{"store": "paris"}})
			s.event(ann, "v2", map[string]any{"type": "visit", "props": map[string]any{"store": "paris"}}) // same store
			mid := s.mine(ann, id)
			if mid.State != "active" || mid.Current != 1 || mid.Target != 2 || len(mid.Goals) != 2 ||
				mid.Goals[0] != (goalPr{"g1", 0.3, 0.3, true}) || mid.Goals[1] != (goalPr{"g2", 1, 2, false}) {
				t.Fatalf("progress = %+v", mid)
			}
			var r eventResult
			s.must(200, req{method: "POST", path: "/v1/events", token: ann, body: map[string]any{"type": "visit", "props": map[string]any{"store": "lyon"}},
				header: map[string]string{"Idempotency-Key": "v3"}}).json(t, &r)
			if len(r.Completions) != 1 || len(r.Points) != 1 || r.Points[0].Amount != 100 {
				t.Fatalf("completing event = %+v", r)
			}
			frames := readFrames(t, ws, 1, "challenge.completed")
			var done struct {
				ChallengeID string `json:"challenge_id"`
			}
			_ = json.Unmarshal(frames[0].Data, &done)
			if done.ChallengeID != id {
				t.Fatalf("completion frame = %s", frames[0].Data)
			}
			if end := s.mine(ann, id); end.State != "completed" || end.Completions != 1 {
				t.Fatalf("after completion = %+v", end)
			}
		})
	}
}

// TestOrderedQuest: step 2 counts only after step 1, by occurred_at, so
// a step-2 event that arrives late but happened before step 1 never counts.
func TestOrderedQuest(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.publish(mgr, map[string]any{"name": "Quest", "reward_points": 10, "rule": map[string]any{"ordered": true, "goals": []any{
		map[string]any{"kind": "count", "event_type": "checkin", "target": 1},
		map[string]any{"kind": "count", "event_type": "share", "target": 2},
	}}})
	ann := s.token("ann", "acme")
	now := time.Now().UTC()
	s.event(ann, "s0", map[string]any{"type": "share", "occurred_at": now.Add(-time.Minute)})
	s.event(ann, "c1", map[string]any{"type": "checkin", "occurred_at": now.Add(-50 * time.Second)})
	s.event(ann, "s-late", map[string]any{"type": "share", "occurred_at": now.Add(-55 * time.Second)}) // before the checkin
	if p := s.mine(ann, id); p.Goals[0].Met != true || p.Goals[1].Current != 0 {
		t.Fatalf("after checkin and early shares = %+v", p)
	}
	s.event(ann, "s1", map[string]any{"type": "share"})
	s.event(ann, "s2", map[string]any{"type": "share"})
	if p := s.mine(ann, id); p.State != "completed" {
		t.Fatalf("after two later shares = %+v", p)
	}
}

// TestRecurringChallenge: "visit 2 times a day" in Kolkata completes once
// per local day, up to a cap of 2 completions; a late event counts for the
// day it happened; resets_at says when today ends.
func TestRecurringChallenge(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.publish(mgr, map[string]any{"name": "Daily visits", "reward_points": 5, "max_completions": 2,
				"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "visit", "target": 2}},
					"window": map[string]any{"recurrence": "daily", "time_zone": "Asia/Kolkata"}}})
			kolkata, _ := time.LoadLocation("Asia/Kolkata")
			now := time.Now().In(kolkata)
			today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, kolkata)
			ann := s.token("ann", "acme")
			visit := func(key string, at time.Time) {
				s.event(ann, key, map[string]any{"type": "visit", "occurred_at": at.UTC()})
			}
			// Yesterday, one visit just before local midnight and one in
			// today: they are in two periods.
			if now.Sub(today) > 2*time.Minute {
				visit("y1", today.Add(-time.Minute))
				visit("t1", today.Add(time.Minute))
				if p := s.mine(ann, id); p.State != "active" || p.Current != 1 || p.Period != today.Format("2006-01-02") {
					t.Fatalf("today after one visit = %+v", p)
				}
				visit("y2", today.Add(-2*time.Minute)) // late, yesterday: completes yesterday
				if p := s.mine(ann, id); p.Completions != 1 || p.State != "active" {
					t.Fatalf("after completing yesterday = %+v", p)
				}
			}
			visit("t2", now.Add(-time.Second))
			visit("t3", now.Add(-time.Second/2))
			p := s.mine(ann, id)
			if p.State != "completed" || p.ResetsAt == nil || p.SecondsLeft == nil || *p.SecondsLeft > 86400 {
				t.Fatalf("after completing today = %+v", p)
			}
			if w := s.wallet(ann); w.Balance != 5*p.Completions {
				t.Fatalf("wallet %+v for %d completions", w, p.Completions)
			}
		})
	}
}

// TestShareToUnlock: shares name a channel and a target; only distinct
// targets count, at most one per minute and three a day; the unlock is
// listed and pushed live.
func TestShareToUnlock(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.publish(mgr, map[string]any{"name": "Share to unlock the recipe",
				"reward": map[string]any{"unlock": "recipe-42"},
				"limits": map[string]any{"min_interval": "1m", "daily_cap": 3},
				"rule": map[string]any{"goals": []any{map[string]any{"kind": "distinct", "event_type": "share", "prop": "target", "target": 3,
					"filters": []any{map[string]any{"prop": "channel", "op": "in", "values": []any{"whatsapp", "instagram"}}}}},
					"window": map[string]any{"time_zone": "UTC"}}})
			ann := s.token("ann", "acme")
			ws := s.dial(ann, "")
			base := time.Now().UTC().Add(-20 * time.Minute)
			share := func(key string, min int, channel, target string) {
				s.event(ann, key, map[string]any{"type": "share", "occurred_at": base.Add(time.Duration(min) * time.Minute),
					"props": map[string]any{"channel": channel, "target": target}})
			}
			share("a", 0, "whatsapp", "post-1")
			share("b", 2, "whatsapp", "post-1")  // same target
			share("c", 2, "sms", "post-2")       // channel not counted
			share("d", 2, "instagram", "post-2") // counts
			share("e", 2, "instagram", "post-3") // same minute as d: too soon
			if p := s.mine(ann, id); p.Current != 2 {
				t.Fatalf("after throttled shares = %+v", p)
			}
			var us struct{ Unlocks []struct{ Content string } }
			s.must(200, req{method: "GET", path: "/v1/me/unlocks", token: ann}).json(t, &us)
			if len(us.Unlocks) != 0 {
				t.Fatalf("unlocked early: %+v", us)
			}
			share("f", 4, "instagram", "post-3")
			frames := readFrames(t, ws, 1, "content.unlocked")
			var u struct{ Content string }
			_ = json.Unmarshal(frames[0].Data, &u)
			s.must(200, req{method: "GET", path: "/v1/me/unlocks", token: ann}).json(t, &us)
			if u.Content != "recipe-42" || len(us.Unlocks) != 1 || us.Unlocks[0].Content != "recipe-42" {
				t.Fatalf("unlock frame %s, unlocks %+v", frames[0].Data, us)
			}
		})
	}
}

// TestOptInAndEligibility: an opt-in challenge for one segment: players
// outside it neither see nor join it; events before joining do not count.
func TestOptInAndEligibility(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.publish(mgr, map[string]any{"name": "VIP checkins", "event_type": "checkin", "target": 2, "reward_points": 7,
		"enrolment": "opt_in", "eligibility": map[string]any{"segments": []string{"vip"}}})
	vip, other := s.token("vip1", "acme"), s.token("joe", "acme")
	if r := s.do(req{method: "PUT", path: "/v1/users/vip1/attributes", token: vip, body: map[string]any{"segments": []string{"vip"}}}); r.Status != 403 {
		t.Fatalf("player setting their own segments: %d", r.Status)
	}
	s.must(200, req{method: "PUT", path: "/v1/users/vip1/attributes", token: mgr, body: map[string]any{"tier": "gold", "segments": []string{"vip"}}})
	if p := s.mine(other, id); p.ID != "" {
		t.Fatalf("ineligible player sees it: %+v", p)
	}
	if typ := s.do(req{method: "POST", path: "/v1/challenges/" + id + "/join", token: other}).problemType(t); typ != "not-eligible" {
		t.Fatalf("ineligible join: %s", typ)
	}
	s.event(vip, "before", map[string]any{"type": "checkin"})
	if p := s.mine(vip, id); p.State != "not_joined" || p.Current != 0 {
		t.Fatalf("before joining = %+v", p)
	}
	time.Sleep(2 * time.Millisecond)
	s.must(200, req{method: "POST", path: "/v1/challenges/" + id + "/join", token: vip})
	s.must(200, req{method: "POST", path: "/v1/challenges/" + id + "/join", token: vip}) // again: harmless
	s.event(vip, "after1", map[string]any{"type": "checkin"})
	if p := s.mine(vip, id); p.State != "active" || p.Current != 1 {
		t.Fatalf("after joining = %+v", p)
	}
	s.event(vip, "after2", map[string]any{"type": "checkin"})
	if w := s.wallet(vip); w.Balance != 7 {
		t.Fatalf("wallet = %+v", w)
	}
	var st struct {
		Participants, Completions, Completers, Joined int64
		CompletionRate                                float64 `json:"completion_rate"`
	}
	s.must(200, req{method: "GET", path: "/v1/challenges/" + id + "/stats", token: mgr}).json(t, &st)
	if st.Participants != 1 || st.Completions != 1 || st.Completers != 1 || st.Joined != 1 || st.CompletionRate != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if r := s.do(req{method: "GET", path: "/v1/challenges/" + id + "/stats", token: vip}); r.Status != 403 {
		t.Fatalf("player reading stats: %d", r.Status)
	}
}

// TestManualClaim: the reward waits for the claim; concurrent and repeated
// claims pay once.
func TestManualClaim(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.publish(mgr, map[string]any{"name": "Claim me", "event_type": "like", "target": 1, "claim": "manual",
				"reward": map[string]any{"points": 30, "unlock": "wallpaper-1"}})
			ann := s.token("ann", "acme")
			if typ := s.do(req{method: "POST", path: "/v1/challenges/" + id + "/claim", token: ann}).problemType(t); typ != "nothing-to-claim" {
				t.Fatalf("early claim: %s", typ)
			}
			s.event(ann, "l1", map[string]any{"type": "like"})
			if p := s.mine(ann, id); p.State != "completed" || p.Claimable != 1 || s.wallet(ann).Balance != 0 {
				t.Fatalf("completed before claim = %+v, wallet %+v", p, s.wallet(ann))
			}
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() { s.must(200, req{method: "POST", path: "/v1/challenges/" + id + "/claim", token: ann}) })
			}
			wg.Wait()
			var c struct {
				Completions []struct {
					ClaimedAt *time.Time `json:"claimed_at"`
				}
			}
			s.must(200, req{method: "POST", path: "/v1/challenges/" + id + "/claim", token: ann}).json(t, &c)
			if len(c.Completions) != 1 || c.Completions[0].ClaimedAt == nil {
				t.Fatalf("claim = %+v", c)
			}
			if w := s.wallet(ann); w.Balance != 30 {
				t.Fatalf("wallet after 11 claims = %+v", w)
			}
			if p := s.mine(ann, id); p.Claimable != 0 {
				t.Fatalf("claimable after claiming = %+v", p)
			}
		})
	}
}

// TestPublishedEdit: what counts is frozen once published; the reward may
// change and pays completions made after the change.
func TestPublishedEdit(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.publish(mgr, map[string]any{"name": "Like", "event_type": "like", "target": 1, "reward_points": 10})
	s.event(s.token("ann", "acme"), "1", map[string]any{"type": "like"})
	for name, body := range map[string]map[string]any{
		"rule":      {"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "like", "target": 5}}}},
		"limits":    {"limits": map[string]any{"daily_cap": 1}},
		"enrolment": {"enrolment": "opt_in"},
	} {
		if typ := s.do(req{method: "PATCH", path: "/v1/challenges/" + id, token: mgr, body: body}).problemType(t); typ != "challenge-published" {
			t.Fatalf("editing %s: %s", name, typ)
		}
	}
	s.must(200, req{method: "PATCH", path: "/v1/challenges/" + id, token: mgr, body: map[string]any{
		"name": "Like it", "reward": map[string]any{"points": 20}, "ends_at": time.Now().Add(time.Hour).UTC()}})
	s.event(s.token("bob", "acme"), "1", map[string]any{"type": "like"})
	if a, b := s.wallet(s.token("ann", "acme")), s.wallet(s.token("bob", "acme")); a.Balance != 10 || b.Balance != 20 {
		t.Fatalf("ann %+v (before the change), bob %+v (after)", a, b)
	}
	if p := s.mine(s.token("ann", "acme"), id); p.State != "completed" {
		t.Fatalf("ann's completion after the edit = %+v", p)
	}
}

// TestChallengeConcurrency: 20 concurrent copies of the completing event and
// 20 distinct concurrent events of one player pay exactly once.
func TestChallengeConcurrency(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			id := s.publish(mgr, map[string]any{"name": "Spend", "reward_points": 50,
				"rule": map[string]any{"goals": []any{map[string]any{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 10}}}})
			key := s.apiKey("acme")
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					s.trusted(key, "ann", fmt.Sprint("k", i), map[string]any{"type": "purchase", "props": map[string]any{"amount": 2.5}})
				})
			}
			wg.Wait()
			if w := s.wallet(s.token("ann", "acme")); w.Balance != 50 {
				t.Fatalf("wallet after 20 concurrent purchases = %+v", w)
			}
			if p := s.mine(s.token("ann", "acme"), id); p.State != "completed" || p.Completions != 1 {
				t.Fatalf("challenge = %+v", p)
			}
		})
	}
}

// TestRollingChallenge: "2 check-ins within 7 days", repeatable twice: a
// check-in older than the span never counts, each completion starts
// afresh, and the cap stops a third.
func TestRollingChallenge(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.publish(mgr, map[string]any{"name": "Twice a week", "reward_points": 10, "max_completions": 2,
		"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "checkin", "target": 2}},
			"window": map[string]any{"rolling": "7d"}}})
	later := s.publish(mgr, map[string]any{"name": "Next month", "event_type": "checkin", "target": 1,
		"starts_at": time.Now().Add(30 * 24 * time.Hour).UTC()})
	ann := s.token("ann", "acme")
	now := time.Now().UTC()
	checkin := func(key string, ago time.Duration) {
		s.event(ann, key, map[string]any{"type": "checkin", "occurred_at": now.Add(-ago)})
	}
	checkin("old", 10*24*time.Hour) // outside the 7 days before the next one
	checkin("a", 2*time.Minute)
	if p := s.mine(ann, id); p.Completions != 0 || p.Current != 1 {
		t.Fatalf("after an old and a recent check-in = %+v", p)
	}
	checkin("b", 100*time.Second)
	checkin("c", 90*time.Second) // after the first completion: starts afresh
	if p := s.mine(ann, id); p.Completions != 1 || p.Current != 1 || p.State != "active" {
		t.Fatalf("after the first completion and one more = %+v", p)
	}
	checkin("d", 80*time.Second)
	checkin("e", 70*time.Second)
	checkin("f", 60*time.Second)
	if p := s.mine(ann, id); p.Completions != 2 || p.State != "completed" {
		t.Fatalf("at the cap = %+v", p)
	}
	if w := s.wallet(ann); w.Balance != 20 {
		t.Fatalf("wallet = %+v, want two completions' worth", w)
	}
	if p := s.mine(ann, later); p.State != "upcoming" || p.Current != 0 {
		t.Fatalf("a challenge that starts next month = %+v", p)
	}
}
