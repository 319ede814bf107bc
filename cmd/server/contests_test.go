package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/contests/draw"
)

type contestView struct {
	ID         string    `json:"id"`
	Commitment string    `json:"commitment"`
	Status     string    `json:"status"`
	BoardID    string    `json:"board_id"`
	EndsAt     time.Time `json:"ends_at"`
	Result     *struct {
		Seed      string `json:"seed"`
		Standings []struct {
			User  string `json:"user_id"`
			Score int64  `json:"score"`
		} `json:"standings"`
		Winners []struct {
			Position int    `json:"position"`
			User     string `json:"user_id"`
			PaidAt   string `json:"paid_at"`
		} `json:"winners"`
	} `json:"result"`
}

type winnersView struct {
	Draw *draw.Record `json:"draw"`
}

func (s *testServer) contest(token, id string) contestView {
	s.t.Helper()
	var c contestView
	s.must(200, req{method: "GET", path: "/v1/contests/" + id, token: token}).json(s.t, &c)
	return c
}

// verifyOverHTTP reads the published record and entry list and checks
// them the way cmd/verify-draw does.
func (s *testServer) verifyOverHTTP(token, id string) (draw.Record, []byte) {
	s.t.Helper()
	var w winnersView
	s.must(200, req{method: "GET", path: "/v1/contests/" + id + "/winners", token: token}).json(s.t, &w)
	file := s.must(200, req{method: "GET", path: "/v1/contests/" + id + "/entries", token: token}).Body
	if err := draw.Verify(*w.Draw, file); err != nil {
		s.t.Fatalf("verify: %v", err)
	}
	return *w.Draw, file
}

// TestContestDraw: a prize draw end to end, on every deployment: entries
// earned by visits and purchases over 20, capped per user; the seed's
// commitment survives a restart and the revealed seed matches it; the
// published record and entry list verify, and a changed entry does not;
// the winner is paid once however often the draw is repeated; a
// disqualified winner is replaced by the documented rule, still
// verifiably; force-end and disqualification are audited.
func TestContestDraw(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_DRAW_SETTLE"] = "1ms"
			s := startServer(t, env)
			mgr := s.token("boss", "acme", auth.Manager)
			var c contestView
			s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
				"name": "Monthly draw", "kind": "draw",
				"starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(time.Hour),
				"prizes": []any{map[string]any{"description": "100 points", "quantity": 1, "points": 100},
					map[string]any{"description": "A mug", "quantity": 2}},
				"earn": []any{map[string]any{"event_type": "visit"},
					map[string]any{"event_type": "purchase", "prop": "amount", "over": 20, "entries": 2}},
				"max_entries_per_user": 3,
			}}).json(t, &c)
			if len(c.Commitment) != 64 || c.Result != nil {
				t.Fatalf("created %+v", c)
			}
			key, _ := s.newKey("acme", auth.ScopeEventsWrite)
			users := []string{"u1", "u2", "u3", "u4", "u5"}
			for i, u := range users {
				tok := s.token(u, "acme")
				for j := range i + 1 { // u5 sends 5 visits: 3 count
					s.event(tok, fmt.Sprintf("v%d", j), map[string]any{"type": "visit"})
				}
			}
			for _, p := range []struct {
				user   string
				amount float64
			}{{"u1", 25}, {"u2", 10}} {
				s.must(200, req{method: "POST", path: "/v1/events", header: map[string]string{"X-API-Key": key, "Idempotency-Key": "p" + p.user},
					body: map[string]any{"type": "purchase", "user_id": p.user, "props": map[string]any{"amount": p.amount}}})
			}
			var me struct{ Tickets int64 }
			s.must(200, req{method: "GET", path: "/v1/contests/" + c.ID + "/me", token: s.token("u1", "acme")}).json(t, &me)
			if me.Tickets != 3 {
				t.Fatalf("u1 has %d tickets, want 1 visit + 2 for a purchase over 20", me.Tickets)
			}
			s.must(409, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr})

			// The commitment is durable: a restart keeps it.
			s.shutdown()
			s.start()
			if again := s.contest(mgr, c.ID); again.Commitment != c.Commitment {
				t.Fatalf("commitment changed over a restart: %s, then %s", c.Commitment, again.Commitment)
			}
			// Subscribed before the close: the close job may draw first.
			ws := s.dial(mgr, "")
			if err := ws.WriteJSON(map[string]any{"op": "subscribe", "channel": "contest:" + c.ID}); err != nil {
				t.Fatal(err)
			}
			readFrames(t, ws, 1, "subscribed")
			s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/end", token: mgr, body: map[string]any{"reason": "launch test"}})
			time.Sleep(5 * time.Millisecond)
			var drawn contestView
			s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr}).json(t, &drawn)
			readFrames(t, ws, 1, "contest.finished")
			seed, _ := hex.DecodeString(drawn.Result.Seed)
			if sum := sha256.Sum256(seed); hex.EncodeToString(sum[:]) != c.Commitment {
				t.Fatalf("revealed seed does not match the commitment")
			}
			rec, file := s.verifyOverHTTP(mgr, c.ID)
			if rec.EntriesCount != 1+2+3+3+3+2 || strings.Count(string(file), "\n") != rec.EntriesCount {
				t.Fatalf("%d entries: %s", rec.EntriesCount, file)
			}
			changed := bytes.Replace(file, []byte("\t3\n"), []byte("\t4\n"), 1)
			if err := draw.Verify(rec, changed); err == nil {
				t.Fatal("a changed entry list verified")
			}

			first := drawn.Result.Winners[0].User
			winner := s.token(first, "acme")
			before := s.wallet(winner)
			s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr}) // a retry pays nothing
			if after := s.wallet(winner); after.Balance != before.Balance {
				t.Fatalf("balance %d after a repeated draw, was %d", after.Balance, before.Balance)
			}
			var dq contestView
			s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/disqualify", token: mgr,
				body: map[string]any{"user_id": first, "reason": "staff account"}}).json(t, &dq)
			if w := dq.Result.Winners[0]; w.User == first || w.User == "" || w.PaidAt == "" {
				t.Fatalf("place 1 after disqualifying %s: %+v", first, w)
			}
			for i, w := range dq.Result.Winners[1:] {
				if w.User != drawn.Result.Winners[i+1].User {
					t.Fatalf("place %d moved: %+v", w.Position, dq.Result.Winners)
				}
			}
			if rec, _ := s.verifyOverHTTP(mgr, c.ID); len(rec.Disqualified) != 1 {
				t.Fatalf("record %+v", rec)
			}
			var log struct {
				Entries []struct{ Action, Subject string }
			}
			s.must(200, req{method: "GET", path: "/v1/audit", token: s.token("root", "acme", auth.Admin)}).json(t, &log)
			actions := map[string]bool{}
			for _, e := range log.Entries {
				actions[e.Action] = true
			}
			for _, a := range []string{"contest.force-end", "contest.disqualify", "create-contest", "draw-contest"} {
				if !actions[a] {
					t.Errorf("audit log lacks %s: %+v", a, log.Entries)
				}
			}
		})
	}
}

// TestLeaderboardContest: the top of the contest's own board at the
// close wins, the standings are frozen into the contest, and the winner
// gets contest.won live.
func TestLeaderboardContest(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	var c contestView
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
		"name": "Most visits", "kind": "leaderboard",
		"starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(time.Hour),
		"prizes": []any{map[string]any{"description": "Gold", "quantity": 1, "points": 50}},
		"board":  map[string]any{"source": "event", "event_type": "visit"},
	}}).json(t, &c)
	for i, u := range []string{"amy", "bob", "cat"} {
		for j := range i + 1 {
			s.event(s.token(u, "acme"), fmt.Sprint(j), map[string]any{"type": "visit"})
		}
	}
	s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/extend", token: mgr,
		body: map[string]any{"reason": "more time", "ends_at": time.Now().Add(2 * time.Hour)}})
	ws := s.dial(s.token("cat", "acme"), "")
	s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/end", token: mgr, body: map[string]any{"reason": "test"}})
	var drawn contestView
	s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr}).json(t, &drawn)
	st := drawn.Result.Standings
	if len(st) != 3 || st[0].User != "cat" || st[0].Score != 3 || drawn.Result.Winners[0].User != "cat" {
		t.Fatalf("result %+v", drawn.Result)
	}
	readFrames(t, ws, 1, "contest.won")
	if w := s.wallet(s.token("cat", "acme")); w.Balance != 50 {
		t.Fatalf("cat's balance %d", w.Balance)
	}
	// More visits after the close change the board, not the frozen standings.
	s.event(s.token("amy", "acme"), "late", map[string]any{"type": "visit"})
	if again := s.contest(mgr, c.ID); len(again.Result.Standings) != 3 || again.Result.Standings[2].Score != 1 {
		t.Fatalf("standings moved: %+v", again.Result.Standings)
	}
}

// TestExtendEventContest: an event leaderboard contest extended keeps its
// board and standings, and counts visits after the old close, which it
// did not count before the extension.
func TestExtendEventContest(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	closeAt := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	var c contestView
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
		"name": "Most visits", "kind": "leaderboard", "starts_at": time.Now().Add(-time.Minute), "ends_at": closeAt,
		"prizes": []any{map[string]any{"description": "Gold", "quantity": 1}},
		"board":  map[string]any{"source": "event", "event_type": "visit"},
	}}).json(t, &c)
	late := closeAt.Add(30 * time.Second) // after the old close, within intake's 5 min of future
	s.event(s.token("cat", "acme"), "1", map[string]any{"type": "visit"})
	s.event(s.token("cat", "acme"), "2", map[string]any{"type": "visit"})
	s.event(s.token("amy", "acme"), "early-late", map[string]any{"type": "visit", "occurred_at": late})

	var ext contestView
	s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/extend", token: mgr,
		body: map[string]any{"reason": "more time", "ends_at": closeAt.Add(time.Hour)}}).json(t, &ext)
	if ext.BoardID != c.BoardID || !ext.EndsAt.Equal(closeAt.Add(time.Hour)) {
		t.Fatalf("extended: board %s (was %s), ends %s", ext.BoardID, c.BoardID, ext.EndsAt)
	}
	s.event(s.token("bob", "acme"), "late", map[string]any{"type": "visit", "occurred_at": late})
	if top := s.top(mgr, c.BoardID); len(top.Entries) != 2 || top.Entries[0].UserID != "cat" || top.Entries[0].Score != 2 || top.Entries[1].UserID != "bob" {
		t.Fatalf("board after the extension: %+v", top.Entries)
	}

	var soon contestView
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
		"name": "Closing", "kind": "leaderboard", "starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(3 * time.Second),
		"prizes": []any{map[string]any{"description": "Gold", "quantity": 1}},
		"board":  map[string]any{"source": "event", "event_type": "visit"},
	}}).json(t, &soon)
	s.must(409, req{method: "POST", path: "/v1/contests/" + soon.ID + "/extend", token: mgr,
		body: map[string]any{"reason": "too late", "ends_at": time.Now().Add(time.Hour)}})
}

// TestContestBadInput: malformed, unauthorised, cross-tenant and
// out-of-turn contest requests get the right problem, naming the field.
func TestContestBadInput(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	alice := s.token("alice", "acme")
	now := time.Now()
	valid := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"name": "x", "kind": "draw", "starts_at": now.Add(-time.Minute), "ends_at": now.Add(time.Hour),
			"prizes": []any{map[string]any{"description": "a", "quantity": 1}}, "earn": []any{map[string]any{"event_type": "visit"}}}
		if edit != nil {
			edit(b)
		}
		return b
	}
	var draw, board contestView
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: valid(nil)}).json(t, &draw)
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) {
		b["kind"], b["earn"], b["board"] = "leaderboard", nil, map[string]any{"source": "points"}
	})}).json(t, &board)
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
		field  string
	}{
		{"player creates", req{method: "POST", path: "/v1/contests", token: alice, body: valid(nil)}, 403, "forbidden", ""},
		{"unknown kind", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) { b["kind"] = "lottery" })}, 422, "validation-failed", "body.kind"},
		{"ends before it starts", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) { b["ends_at"] = now.Add(-time.Hour) })}, 422, "bad-contest", "body.ends_at"},
		{"unknown earning event", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) {
			b["earn"] = []any{map[string]any{"event_type": "teleport"}}
		})}, 422, "bad-contest", "body.earn[0].event_type"},
		{"too many winners", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) {
			b["prizes"] = []any{map[string]any{"description": "a", "quantity": 1000}, map[string]any{"description": "b", "quantity": 1}}
		})}, 422, "bad-contest", "body.prizes"},
		{"a board for a draw", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) { b["board"] = map[string]any{"source": "points"} })}, 422, "bad-contest", "body.board"},
		{"a bad board", req{method: "POST", path: "/v1/contests", token: mgr, body: valid(func(b map[string]any) {
			b["kind"], b["earn"], b["board"] = "leaderboard", nil, map[string]any{"source": "event", "event_type": "teleport"}
		})}, 422, "unknown-event-type", "body.board.event_type"},
		{"another tenant's contest", req{method: "GET", path: "/v1/contests/" + draw.ID, token: s.token("boss", "globex", auth.Manager)}, 404, "contest-not-found", ""},
		{"entries before the draw", req{method: "GET", path: "/v1/contests/" + draw.ID + "/entries", token: alice}, 409, "contest-not-drawn", ""},
		{"disqualify before the draw", req{method: "POST", path: "/v1/contests/" + draw.ID + "/disqualify", token: mgr, body: map[string]any{"user_id": "alice", "reason": "x"}}, 409, "contest-not-drawn", ""},
		{"draw while running", req{method: "POST", path: "/v1/contests/" + draw.ID + "/draw", token: mgr}, 409, "contest-running", ""},
		{"enter a leaderboard contest", req{method: "POST", path: "/v1/contests/" + board.ID + "/enter", token: alice, body: map[string]any{"opt_in": true}}, 409, "not-a-draw", ""},
		{"buy where nothing is sold", req{method: "POST", path: "/v1/contests/" + draw.ID + "/enter", token: alice, body: map[string]any{"buy": 1}}, 409, "not-for-sale", "body.buy"},
		{"extend without a new close", req{method: "POST", path: "/v1/contests/" + draw.ID + "/extend", token: mgr, body: map[string]any{"reason": "x"}}, 422, "bad-contest", "body.ends_at"},
		{"end without a reason", req{method: "POST", path: "/v1/contests/" + draw.ID + "/end", token: mgr, body: map[string]any{}}, 422, "validation-failed", "body"},
		{"prizes once started", req{method: "PATCH", path: "/v1/contests/" + draw.ID, token: mgr, body: map[string]any{
			"prizes": []any{map[string]any{"description": "b", "quantity": 2}}}}, 409, "contest-started", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.r)
			if r.Status != tc.status || r.problemType(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if tc.field != "" && !strings.Contains(string(r.Body), `"location":"`+tc.field+`"`) {
				t.Fatalf("%s does not name %s", r.Body, tc.field)
			}
		})
	}
	if c := s.contest(mgr, draw.ID); c.Status != "open" || c.Result != nil {
		t.Fatalf("state changed: %+v", c)
	}
}

// TestContestAutoClose: a draw whose prize is a catalogue reward is
// refused when the stock cannot cover it; one that can is drawn by the
// close job after a restart past its end, with nobody calling /draw, and
// the winner holds one free redemption of the reward, with its code.
func TestContestAutoClose(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_DRAW_SETTLE"] = "1ms"
			s := startServer(t, env)
			mgr := s.token("boss", "acme", auth.Manager)
			var reward struct{ ID string }
			s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{
				"name": "Mug", "kind": "generated", "cost": 500, "stock": 1}}).json(t, &reward)
			def := func(quantity int) map[string]any {
				return map[string]any{"name": "Flash draw", "kind": "draw",
					"starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(2 * time.Second),
					"prizes": []any{map[string]any{"description": "A mug", "quantity": quantity, "reward_id": reward.ID}},
					"earn":   []any{map[string]any{"event_type": "visit"}}}
			}
			if typ := s.do(req{method: "POST", path: "/v1/contests", token: mgr, body: def(2)}).problemType(t); typ != "prize-out-of-stock" {
				t.Fatalf("a prize past the stock: %s", typ)
			}
			var c contestView
			s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: def(1)}).json(t, &c)
			ann := s.token("ann", "acme")
			s.event(ann, "v1", map[string]any{"type": "visit"})
			s.shutdown()
			time.Sleep(2 * time.Second) // past the end
			s.start()                   // the close job runs at start, then every 15 s
			paid := func(c contestView) bool {
				return c.Result != nil && len(c.Result.Winners) == 1 && c.Result.Winners[0].PaidAt != ""
			}
			deadline := time.Now().Add(10 * time.Second)
			for c = s.contest(mgr, c.ID); !paid(c) && time.Now().Before(deadline); c = s.contest(mgr, c.ID) {
				time.Sleep(50 * time.Millisecond)
			}
			var won struct {
				Result struct {
					Winners []struct {
						User       string `json:"user_id"`
						Redemption string `json:"redemption_id"`
					} `json:"winners"`
				} `json:"result"`
			}
			s.must(200, req{method: "GET", path: "/v1/contests/" + c.ID, token: mgr}).json(t, &won)
			if c.Status != "finished" || len(won.Result.Winners) != 1 || won.Result.Winners[0].User != "ann" || won.Result.Winners[0].Redemption == "" {
				t.Fatalf("after the close job: %s %+v", c.Status, won.Result)
			}
			s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr}) // a repeat grants nothing more
			var mine struct {
				Redemptions []struct {
					ID, Code string
					Cost     int64
				} `json:"redemptions"`
			}
			s.must(200, req{method: "GET", path: "/v1/me/redemptions", token: ann}).json(t, &mine)
			if len(mine.Redemptions) != 1 || mine.Redemptions[0].ID != won.Result.Winners[0].Redemption || mine.Redemptions[0].Code == "" || mine.Redemptions[0].Cost != 0 {
				t.Fatalf("ann's redemptions: %+v", mine)
			}
		})
	}
}
