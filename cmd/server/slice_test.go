package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/questline/questline/auth"
)

// TestEngagementLoop drives the whole slice as a brand manager and a phone
// would, on each deployment: challenge -> events -> completion -> ledger ->
// leaderboard, with every step pushed over the WebSocket.
func TestEngagementLoop(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			ch, board := s.setupSlice("acme")
			alice := s.token("alice", "acme")
			ws := s.dial(alice, "")

			for i := 1; i <= 3; i++ {
				var r eventResult
				s.must(200, req{method: "POST", path: "/v1/events", token: alice,
					body:   map[string]any{"type": "share", "props": map[string]any{"post": fmt.Sprintf("p%d", i)}},
					header: map[string]string{"Idempotency-Key": fmt.Sprintf("share-%d", i)},
				}).json(t, &r)
				if len(r.Progress) != 1 || r.Progress[0].ChallengeID != ch || r.Progress[0].Current != float64(i) || r.Progress[0].Target != 3 {
					t.Fatalf("event %d progress = %+v", i, r.Progress)
				}
				if done := i == 3; (len(r.Completions) == 1) != done || (len(r.Points) == 1) != done {
					t.Fatalf("event %d completions %+v points %+v", i, r.Completions, r.Points)
				}
				if i == 3 && (r.Points[0].Amount != 50 || r.Points[0].Balance != 50) {
					t.Fatalf("points = %+v", r.Points)
				}
			}

			frames := readFrames(t, ws, 5, "progress", "challenge.completed", "points")
			var types []string
			for i, f := range frames {
				types = append(types, f.Type)
				if f.Channel != "user:alice" || (i > 0 && f.Seq != frames[i-1].Seq+1) {
					t.Fatalf("frame %d = %+v", i, f)
				}
			}
			if fmt.Sprint(types) != "[progress progress progress points challenge.completed]" &&
				fmt.Sprint(types) != "[progress progress progress challenge.completed points]" {
				t.Fatalf("frames = %v", types)
			}
			var last struct{ Current int64 }
			_ = json.Unmarshal(frames[2].Data, &last)
			if last.Current != 3 {
				t.Fatalf("third progress frame = %s", frames[2].Data)
			}

			var mine struct {
				Challenges []struct {
					ID      string `json:"id"`
					State   string `json:"state"`
					Current int64  `json:"current"`
					Target  int64  `json:"target"`
				} `json:"challenges"`
			}
			s.must(200, req{method: "GET", path: "/v1/me/challenges", token: alice}).json(t, &mine)
			if len(mine.Challenges) != 1 || mine.Challenges[0].State != "completed" || mine.Challenges[0].Current != 3 {
				t.Fatalf("my challenges = %+v", mine)
			}
			if w := s.wallet(alice); w.Balance != 50 || w.Earned != 50 {
				t.Fatalf("wallet = %+v", w)
			}
			var ledger struct {
				Entries []struct {
					Amount int64  `json:"amount"`
					Reason string `json:"reason"`
				} `json:"entries"`
			}
			s.must(200, req{method: "GET", path: "/v1/me/ledger", token: alice}).json(t, &ledger)
			if len(ledger.Entries) != 1 || ledger.Entries[0].Amount != 50 {
				t.Fatalf("ledger = %+v", ledger)
			}

			// Bob earns too, then both read the board.
			bob := s.token("bob", "acme")
			for i := range 6 {
				s.must(200, req{method: "POST", path: "/v1/events", token: bob, body: map[string]any{"type": "share"},
					header: map[string]string{"Idempotency-Key": fmt.Sprintf("b%d", i)}})
			}
			top := s.top(alice, board)
			if top.Total != 2 || top.Entries[0].UserID != "alice" || top.Entries[0].Score != 50 || top.Entries[0].Rank != 1 ||
				top.Entries[1].UserID != "bob" || top.Entries[1].Rank != 2 {
				t.Fatalf("top = %+v (equal scores rank by user id)", top)
			}
			var me boardPage
			s.must(200, req{method: "GET", path: "/v1/leaderboards/" + board + "/me?around=1", token: bob}).json(t, &me)
			if me.Me == nil || me.Me.UserID != "bob" || me.Me.Rank != 2 || len(me.Entries) != 2 {
				t.Fatalf("me = %+v", me)
			}
		})
	}
}

// TestIdempotency proves a retried or concurrently duplicated event pays once.
func TestIdempotency(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			s.setupSlice("acme")
			alice := s.token("alice", "acme")
			s.must(200, s.shareReq(alice, "a1"))
			s.must(200, s.shareReq(alice, "a2"))

			// 20 concurrent copies of the completing event.
			var wg sync.WaitGroup
			results := make([]eventResult, 20)
			for i := range results {
				wg.Go(func() {
					resp := s.do(s.shareReq(alice, "a3"))
					if resp.Status != 200 {
						t.Errorf("copy %d: %d %s", i, resp.Status, resp.Body)
						return
					}
					_ = json.Unmarshal(resp.Body, &results[i])
				})
			}
			wg.Wait()
			replayed := 0
			for _, r := range results {
				if r.EventID != results[0].EventID || len(r.Points) != 1 || r.Points[0].Amount != 50 {
					t.Fatalf("copies disagree: %+v vs %+v", r, results[0])
				}
				if r.Replayed {
					replayed++
				}
			}
			if replayed != 19 {
				t.Fatalf("%d copies replayed, want 19", replayed)
			}
			// A later retry answers the same, marked replayed.
			var again eventResult
			s.must(200, s.shareReq(alice, "a3")).json(t, &again)
			if !again.Replayed || again.EventID != results[0].EventID || len(again.Points) != 1 {
				t.Fatalf("retry = %+v", again)
			}
			// 20 concurrent distinct events after completion pay nothing more.
			for i := range 20 {
				wg.Go(func() { s.must(200, s.shareReq(alice, fmt.Sprintf("more-%d", i))) })
			}
			wg.Wait()
			if w := s.wallet(alice); w.Balance != 50 {
				t.Fatalf("wallet = %+v, want 50 paid once", w)
			}
			// The same key with a different payload is a conflict.
			resp := s.do(req{method: "POST", path: "/v1/events", token: alice,
				body: map[string]any{"type": "visit"}, header: map[string]string{"Idempotency-Key": "a3"}})
			if resp.Status != 409 || resp.problemType(t) != "idempotency-key-reused" {
				t.Fatalf("reused key: %d %s", resp.Status, resp.Body)
			}
		})
	}
}

func (s *testServer) shareReq(token, key string) req {
	return req{method: "POST", path: "/v1/events", token: token, body: map[string]any{"type": "share"},
		header: map[string]string{"Idempotency-Key": key}}
}

// TestConcurrentPlayersExact sends many players' events at once and checks
// the ledger, wallets and board agree exactly.
func TestConcurrentPlayersExact(t *testing.T) {
	s := startServer(t, nil)
	_, board := s.setupSlice("acme")
	const players, each = 10, 7 // 7 shares: one completion (50 points) each
	var wg sync.WaitGroup
	for p := range players {
		tok := s.token(fmt.Sprintf("u%02d", p), "acme")
		for i := range each {
			wg.Go(func() { s.must(200, s.shareReq(tok, fmt.Sprintf("k%d", i))) })
		}
	}
	wg.Wait()
	top := s.top(s.token("x", "acme"), board)
	if top.Total != players {
		t.Fatalf("board has %d members, want %d", top.Total, players)
	}
	seen := map[string]bool{}
	for i, e := range top.Entries {
		// Equal scores: the order is by who reached 50 first, so only the
		// set of players and the ranks are known here.
		if e.Score != 50 || seen[e.UserID] || e.Rank != int64(i+1) {
			t.Fatalf("entry %d = %+v", i, e)
		}
		seen[e.UserID] = true
	}
}

// TestRateLimit: a player over their event budget gets 429 problem+json
// with Retry-After, and the events over it change nothing.
func TestRateLimit(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_EVENT_RATE"] = "2" // bursts of 4
			s := startServer(t, env)
			alice := s.token("alice", "acme")
			var limited int
			for i := range 8 {
				resp := s.do(s.shareReq(alice, fmt.Sprint(i)))
				switch resp.Status {
				case 200:
				case 429:
					limited++
					if resp.problemType(t) != "rate-limited" || resp.Header.Get("Retry-After") == "" {
						t.Fatalf("429 without problem type or Retry-After: %v %s", resp.Header, resp.Body)
					}
				default:
					t.Fatalf("status %d: %s", resp.Status, resp.Body)
				}
			}
			if limited < 3 {
				t.Fatalf("%d of 8 rapid events limited, want at least 3 over a burst of 4", limited)
			}
			// Another player is not affected.
			s.must(200, s.shareReq(s.token("bob", "acme"), "b1"))
		})
	}
}

// TestAPIKeyFlow: an admin issues a key; a brand back end sends trusted
// events for any user with it; revoking it locks the back end out.
func TestAPIKeyFlow(t *testing.T) {
	s := startServer(t, nil)
	admin := s.token("root", "acme", auth.Admin)
	var created struct {
		ID, Key, Prefix string
		Scopes          []string
	}
	s.must(201, req{method: "POST", path: "/v1/api-keys", token: admin,
		body: map[string]any{"name": "pos", "scopes": []string{"events:write"}}}).json(t, &created)
	if !strings.HasPrefix(created.Key, created.Prefix) || created.ID == "" {
		t.Fatalf("created key = %+v", created)
	}
	list := string(s.must(200, req{method: "GET", path: "/v1/api-keys", token: admin}).Body)
	if strings.Contains(list, created.Key) || !strings.Contains(list, created.ID) {
		t.Fatalf("key list shows the secret or lacks the key: %s", list)
	}
	withKey := func(key string, body any) response {
		return s.do(req{method: "POST", path: "/v1/events", body: body, header: map[string]string{"X-API-Key": key}})
	}
	if r := withKey(created.Key, map[string]any{"type": "purchase", "user_id": "bob", "props": map[string]any{"amount": 42.5}}); r.Status != 200 {
		t.Fatalf("purchase with key: %d %s", r.Status, r.Body)
	}
	if r := withKey(created.Key, map[string]any{"type": "purchase"}); r.Status != 422 || r.problemType(t) != "user-required" {
		t.Fatalf("purchase without user: %d %s", r.Status, r.Body)
	}
	// The key is the tenant's: it cannot manage anything.
	if r := s.do(req{method: "POST", path: "/v1/leaderboards", body: map[string]any{"name": "x"},
		header: map[string]string{"X-API-Key": created.Key}}); r.Status != 403 {
		t.Fatalf("key creating a board: %d %s", r.Status, r.Body)
	}
	s.must(204, req{method: "DELETE", path: "/v1/api-keys/" + created.ID, token: admin})
	if r := withKey(created.Key, map[string]any{"type": "purchase", "user_id": "bob"}); r.Status != 401 || r.problemType(t) != "invalid-api-key" {
		t.Fatalf("revoked key: %d %s", r.Status, r.Body)
	}
	if r := s.do(req{method: "DELETE", path: "/v1/api-keys/" + created.ID, token: s.token("root", "globex", auth.Admin)}); r.Status != 404 {
		t.Fatalf("revoke from another tenant: %d", r.Status)
	}
}
