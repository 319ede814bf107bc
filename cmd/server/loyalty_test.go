package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

// earnRule creates an earn rule as a manager and returns its id.
func (s *testServer) earnRule(token string, def map[string]any) string {
	s.t.Helper()
	var r struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/earn-rules", token: token, body: def}).json(s.t, &r)
	return r.ID
}

// keyEvent sends an event with an API key.
func (s *testServer) keyEvent(key, idem string, body map[string]any) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/v1/events", body: body, header: map[string]string{"X-API-Key": key, "Idempotency-Key": idem}})
}

// purchase sends a purchase for user with an API key and fails the test
// unless it is accepted.
func (s *testServer) purchase(key, idem, user string, props map[string]any) {
	s.t.Helper()
	if r := s.keyEvent(key, idem, map[string]any{"type": "purchase", "user_id": user, "props": props}); r.Status != 200 {
		s.t.Fatalf("purchase: %d %s", r.Status, r.Body)
	}
}

// startLoyalty starts a server of deployment d and returns it with a
// manager's token, an events:write key and alice's token, all of acme.
func startLoyalty(t *testing.T, d deployment) (s *testServer, mgr, key, alice string) {
	t.Helper()
	s = startServer(t, d.env(t))
	key, _ = s.newKey("acme", auth.ScopeEventsWrite)
	return s, s.token("boss", "acme", auth.Manager), key, s.token("alice", "acme")
}

// TestEventTypeCatalogue: a tenant defines its own types with senders
// and prop schemas; intake checks them (422 naming the prop, 403 for a
// trusted type from a player); rules on a type the tenant lacks are
// refused; system types are reserved; a change taking away a prop a
// published challenge filters on is 409; other tenants are unaffected.
func TestEventTypeCatalogue(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	alice := s.token("alice", "acme")
	visit := map[string]any{"type": "store_visit", "props": map[string]any{"store_id": "paris", "minutes": 12}}

	s.must(422, req{method: "POST", path: "/v1/events", token: alice, body: visit})
	s.must(422, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": "x", "event_type": "store_visit", "target": 1}})
	s.must(422, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 0,
		"types": []any{map[string]any{"name": "challenge.completed", "senders": "trusted"}}}})

	catalogue := []any{
		map[string]any{"name": "store_visit", "senders": "players", "props": []any{
			map[string]any{"name": "store_id", "type": "string", "required": true, "enum": []any{"paris", "lyon"}},
			map[string]any{"name": "minutes", "type": "number", "min": 0, "max": 600},
		}},
		map[string]any{"name": "watch_video", "senders": "trusted"},
	}
	var got struct {
		Version int64
		Types   []struct {
			Name    string
			Builtin bool
		}
	}
	s.must(200, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 0, "types": catalogue}}).json(t, &got)
	if got.Version != 1 || len(got.Types) < 10 {
		t.Fatalf("catalogue after put: %+v", got)
	}
	s.must(409, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 0, "types": catalogue}})

	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		field  string
	}{
		{"valid", alice, visit, 200, ""},
		{"missing required prop", alice, map[string]any{"type": "store_visit", "props": map[string]any{"minutes": 3}}, 422, "body.props.store_id"},
		{"not in enum", alice, map[string]any{"type": "store_visit", "props": map[string]any{"store_id": "nice"}}, 422, "body.props.store_id"},
		{"over max", alice, map[string]any{"type": "store_visit", "props": map[string]any{"store_id": "lyon", "minutes": 601}}, 422, "body.props.minutes"},
		{"wrong type", alice, map[string]any{"type": "store_visit", "props": map[string]any{"store_id": "lyon", "minutes": "12"}}, 422, "body.props.minutes"},
		{"undeclared prop", alice, map[string]any{"type": "store_visit", "props": map[string]any{"store_id": "lyon", "floor": 2}}, 422, "body.props.floor"},
		{"trusted type from a player", alice, map[string]any{"type": "watch_video"}, 403, ""},
		{"another tenant lacks it", s.token("bob", "globex"), visit, 422, "body.type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(req{method: "POST", path: "/v1/events", token: c.token, body: c.body})
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.field != "" {
				var p struct{ Errors []struct{ Location string } }
				r.json(t, &p)
				if len(p.Errors) == 0 || p.Errors[0].Location != c.field {
					t.Fatalf("problem at %+v, want %s: %s", p.Errors, c.field, r.Body)
				}
			}
		})
	}

	// A published challenge filtering on store_id pins that prop.
	s.publish(mgr, map[string]any{"name": "Paris regular", "event_type": "store_visit", "filter": map[string]any{"store_id": "paris"}, "target": 3})
	without := []any{map[string]any{"name": "store_visit", "senders": "players", "props": []any{
		map[string]any{"name": "minutes", "type": "number"}}}}
	r := s.must(409, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 1, "types": without}})
	if p := r.problemType(t); p != "event-prop-in-use" {
		t.Fatalf("problem %s", r.Body)
	}
	s.must(409, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 1, "types": []any{}}})
	// Adding a prop is fine, and the change is seen by intake at once.
	more := append(catalogue[:1:1], map[string]any{"name": "watch_video", "senders": "players"})
	s.must(200, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{"version": 1, "types": more}})
	s.must(200, req{method: "POST", path: "/v1/events", token: alice, body: map[string]any{"type": "watch_video"}})
}

// TestEarnRules: rate, fixed and punch-card rules pay through the ledger
// exactly once per (rule, event): under replays of a key, concurrent
// duplicates, concurrent distinct events and a restart of the server.
func TestEarnRules(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			s.earnRule(mgr, map[string]any{"name": "1 point per EUR", "rule": map[string]any{
				"kind": "rate", "event_type": "purchase", "prop": "amount", "rate": 1,
				"filters": []any{map[string]any{"prop": "currency", "op": "eq", "value": "EUR"}}}})
			s.earnRule(mgr, map[string]any{"name": "10th visit", "rule": map[string]any{
				"kind": "nth", "event_type": "visit", "points": 50, "every": 10}})
			s.earnRule(mgr, map[string]any{"name": "per visit", "rule": map[string]any{
				"kind": "fixed", "event_type": "visit", "points": 2, "caps": map[string]any{"per_day": 15}}})
			s.must(422, req{method: "POST", path: "/v1/earn-rules", token: mgr, body: map[string]any{"name": "x", "rule": map[string]any{
				"kind": "fixed", "event_type": "teleport", "points": 1}}})

			purchase := map[string]any{"type": "purchase", "user_id": "alice", "props": map[string]any{"amount": 42.99, "currency": "EUR"}}
			var wg sync.WaitGroup
			for range 8 { // concurrent duplicates of one key
				wg.Go(func() {
					if r := s.keyEvent(key, "order-1", purchase); r.Status != 200 {
						t.Errorf("purchase: %d %s", r.Status, r.Body)
					}
				})
			}
			wg.Wait()
			if r := s.keyEvent(key, "order-2", map[string]any{"type": "purchase", "user_id": "alice",
				"props": map[string]any{"amount": 100, "currency": "USD"}}); r.Status != 200 {
				t.Fatalf("usd purchase: %d %s", r.Status, r.Body)
			}
			if w := s.wallet(alice); w.Balance != 42 {
				t.Fatalf("after purchases: %+v, want 42", w)
			}
			for i := range 12 { // concurrent distinct visits: the 10th pays 50, per-visit capped at 15 a day
				wg.Go(func() { s.event(alice, fmt.Sprintf("visit-%d", i), map[string]any{"type": "visit"}) })
			}
			wg.Wait()
			want := int64(42 + 50 + 15) // 7 visits of 2 fit under the cap of 15, the 8th pays 1
			if w := s.wallet(alice); w.Balance != want {
				t.Fatalf("after visits: %+v, want %d", w, want)
			}
			s.shutdown()
			s.start()
			for i := range 12 { // replays after a restart pay nothing
				s.event(alice, fmt.Sprintf("visit-%d", i), map[string]any{"type": "visit"})
			}
			s.keyEvent(key, "order-1", purchase)
			if w := s.wallet(alice); w.Balance != want {
				t.Fatalf("after a restart and replays: %+v, want %d", w, want)
			}
		})
	}
}

type tierView struct {
	Tier     string `json:"tier"`
	Locked   bool   `json:"locked"`
	Value    int64  `json:"value"`
	NextTier string `json:"next_tier"`
	Needed   int64  `json:"needed"`
}

func (s *testServer) myTier(token string) tierView {
	s.t.Helper()
	var v tierView
	s.must(200, req{method: "GET", path: "/v1/me/tier", token: token}).json(s.t, &v)
	return v
}

// TestTiers: a credit over a threshold upgrades at once (push, tier
// attribute read by earn rules' tier multipliers, tier.changed event that
// a badge rule counts); a manual, locked tier is audited and stays.
func TestTiers(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			s.must(200, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "lifetime_points",
				"review": map[string]any{"mode": "anniversary", "time_zone": "Europe/Paris"}, "grace_days": 30,
				"tiers": []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100, "earn_multiplier": 1.5, "perks": []string{"free delivery"}}}}})
			s.earnRule(mgr, map[string]any{"name": "60 a purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 60,
				"tier_multipliers": map[string]any{"gold": 2}}})
			s.badge(mgr, map[string]any{"name": "Gold member", "rule": map[string]any{"goals": []any{map[string]any{"kind": "count",
				"event_type": "tier.changed", "target": 1, "filters": []any{map[string]any{"prop": "to", "op": "eq", "value": "gold"}}}}}})
			ws := s.dial(alice, "")
			buy := func(k string) { s.purchase(key, k, "alice", nil) }
			buy("o1")
			if v := s.myTier(alice); v.Tier != "silver" || v.NextTier != "gold" || v.Needed != 40 {
				t.Fatalf("after 60 points: %+v", v)
			}
			buy("o2")
			if v := s.myTier(alice); v.Tier != "gold" || v.Value != 120 {
				t.Fatalf("after 120 points: %+v", v)
			}
			f := readFrames(t, ws, 2, "tier.changed")
			if !strings.Contains(string(f[1].Data), `"to":"gold"`) {
				t.Fatalf("push: %s", f[1].Data)
			}
			buy("o3") // gold pays double: the rule's own multiplier for gold wins over the programme's
			buy("o3")
			s.earnRule(mgr, map[string]any{"name": "10 a visit", "rule": map[string]any{"kind": "fixed", "event_type": "visit", "points": 10}})
			s.event(alice, "v1", map[string]any{"type": "visit"}) // the programme's 1.5 for gold
			if w := s.wallet(alice); w.Balance != 255 {
				t.Fatalf("gold multipliers: %+v, want 120 + 120 + 15", w)
			}
			var bs struct {
				Badges []struct {
					Name   string
					Awards []any
				}
			}
			s.must(200, req{method: "GET", path: "/v1/me/badges", token: alice}).json(t, &bs)
			if len(bs.Badges) != 1 || len(bs.Badges[0].Awards) != 1 {
				t.Fatalf("tier.changed did not award the badge: %+v", bs)
			}
			s.must(422, req{method: "PUT", path: "/v1/users/alice/tier", token: mgr, body: map[string]any{"tier": "platinum"}})
			s.must(200, req{method: "PUT", path: "/v1/users/alice/tier", token: mgr, body: map[string]any{"tier": "silver", "locked": true}})
			buy("o4")
			if v := s.myTier(alice); v.Tier != "silver" || !v.Locked {
				t.Fatalf("locked: %+v", v)
			}
			r := s.must(200, req{method: "GET", path: "/v1/audit", token: s.token("root", "acme", auth.Admin)})
			if !strings.Contains(string(r.Body), "assign-user-tier") {
				t.Fatalf("assignment not audited: %s", r.Body)
			}
		})
	}
}

// TestReferrals: codes, one claim per user, self-referral and cycles
// refused, both sides paid once on the first qualifying event, the
// referrer's monthly cap, and referral.completed counted by a badge.
func TestReferrals(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			key, _ := s.newKey("acme", auth.ScopeEventsWrite)
			s.must(200, req{method: "PUT", path: "/v1/referral-programme", token: mgr, body: map[string]any{"version": 0,
				"qualifying_event": "purchase", "referrer_points": 100, "referee_points": 50, "monthly_cap": 1}})
			s.badge(mgr, map[string]any{"name": "Ambassador", "rule": map[string]any{"goals": []any{map[string]any{"kind": "count",
				"event_type": "referral.completed", "target": 1}}}})
			tok := map[string]string{}
			code := map[string]string{}
			for _, u := range []string{"bob", "carol", "dave"} {
				tok[u] = s.token(u, "acme")
				var r struct{ Code string }
				s.must(200, req{method: "GET", path: "/v1/me/referral", token: tok[u]}).json(t, &r)
				code[u] = r.Code
			}
			claim := func(who, of string, status int) {
				t.Helper()
				s.must(status, req{method: "POST", path: "/v1/referrals/claim", token: tok[who], body: map[string]any{"code": code[of]}})
			}
			claim("bob", "bob", 422)   // self
			claim("carol", "bob", 200) // bob referred carol
			claim("carol", "dave", 409)
			claim("bob", "carol", 422) // a cycle
			s.must(404, req{method: "POST", path: "/v1/referrals/claim", token: tok["dave"], body: map[string]any{"code": "NOSUCH"}})
			buy := func(user, k string) { s.purchase(key, k, user, nil) }
			buy("carol", "c1")
			buy("carol", "c1")
			buy("carol", "c2")
			if b, c := s.wallet(tok["bob"]).Balance, s.wallet(tok["carol"]).Balance; b != 100 || c != 50 {
				t.Fatalf("bob %d carol %d, want 100 and 50", b, c)
			}
			claim("dave", "bob", 200)
			buy("dave", "d1")
			if b, dv := s.wallet(tok["bob"]).Balance, s.wallet(tok["dave"]).Balance; b != 100 || dv != 50 {
				t.Fatalf("past the cap: bob %d dave %d, want 100 and 50", b, dv)
			}
			var bs struct{ Badges []struct{ Awards []any } }
			s.must(200, req{method: "GET", path: "/v1/me/badges", token: tok["bob"]}).json(t, &bs)
			if len(bs.Badges) != 1 || len(bs.Badges[0].Awards) != 1 {
				t.Fatalf("referral.completed did not reach the badge: %+v", bs)
			}
		})
	}
}

// TestRefunds: purchase.refunded takes back what the purchase paid, once,
// as does the manager's reversal endpoint; a points board is lowered.
func TestRefunds(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			s.earnRule(mgr, map[string]any{"name": "1 per EUR", "rule": map[string]any{"kind": "rate", "event_type": "purchase", "prop": "amount", "rate": 1}})
			s.earnRule(mgr, map[string]any{"name": "5 per purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 5}})
			board := s.board(mgr, map[string]any{"name": "All time", "window": "all_time"})
			var first, second struct {
				EventID string `json:"event_id"`
			}
			s.keyEvent(key, "o1", map[string]any{"type": "purchase", "user_id": "alice", "props": map[string]any{"amount": 42.99}}).json(t, &first)
			s.keyEvent(key, "o2", map[string]any{"type": "purchase", "user_id": "alice", "props": map[string]any{"amount": 10}}).json(t, &second)
			if w := s.wallet(alice); w.Balance != 62 {
				t.Fatalf("before refunds: %+v", w)
			}
			for range 2 { // a retried refund under a new key still takes back once
				for _, k := range []string{"r1", "r1b"} {
					if r := s.keyEvent(key, k, map[string]any{"type": "purchase.refunded", "user_id": "alice",
						"props": map[string]any{"purchase_event_id": first.EventID}}); r.Status != 200 {
						t.Fatalf("refund: %d %s", r.Status, r.Body)
					}
				}
			}
			if w := s.wallet(alice); w.Balance != 15 {
				t.Fatalf("after the refund: %+v, want 15", w)
			}
			s.must(200, req{method: "POST", path: "/v1/events/" + second.EventID + "/reverse-earnings", token: mgr})
			s.must(200, req{method: "POST", path: "/v1/events/" + second.EventID + "/reverse-earnings", token: mgr})
			s.must(404, req{method: "POST", path: "/v1/events/" + second.EventID + "/reverse-earnings", token: s.token("boss", "globex", auth.Manager)})
			if w := s.wallet(alice); w.Balance != 0 {
				t.Fatalf("after the reversal: %+v, want 0", w)
			}
			s.built(mgr, board)
			deadline := time.Now().Add(10 * time.Second)
			for p := s.top(alice, board); len(p.Entries) > 0 && p.Entries[0].Score != 0; p = s.top(alice, board) {
				if time.Now().After(deadline) {
					t.Fatalf("board not lowered: %+v", p)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestSpendTiers: a tier programme on qualifying spend folds each
// purchase's amount once, to the cent, and upgrades at once.
func TestSpendTiers(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			s.must(422, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "spend",
				"spend_event": "teleport", "review": map[string]any{"mode": "calendar"}, "tiers": []any{map[string]any{"name": "silver", "threshold": 0}}}})
			s.must(200, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "spend",
				"review": map[string]any{"mode": "calendar"},
				"tiers":  []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100}}}})
			buy := func(k string, amount float64) { s.purchase(key, k, "alice", map[string]any{"amount": amount}) }
			buy("o1", 60.55)
			buy("o1", 60.55)
			if v := s.myTier(alice); v.Tier != "silver" || v.Value != 60 || v.Needed != 40 {
				t.Fatalf("after 60.55: %+v", v)
			}
			buy("o2", 39.44)
			if v := s.myTier(alice); v.Tier != "silver" || v.Value != 99 {
				t.Fatalf("after 99.99: %+v", v)
			}
			buy("o3", 0.01)
			if v := s.myTier(alice); v.Tier != "gold" || v.Value != 100 {
				t.Fatalf("after 100.00: %+v", v)
			}
		})
	}
}
