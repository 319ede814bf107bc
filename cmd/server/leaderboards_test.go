package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/sqlite"
)

// lbRow is a leaderboard entry with everything a client sees of it.
type lbRow struct {
	UserID     string    `json:"user_id"`
	Score      int64     `json:"score"`
	Rank       int64     `json:"rank"`
	BoardRank  int64     `json:"board_rank"`
	AchievedAt time.Time `json:"achieved_at"`
	Name       string    `json:"name"`
	AvatarURL  string    `json:"avatar_url"`
}

type lbPage struct {
	Period   string     `json:"period"`
	ResetsAt *time.Time `json:"resets_at"`
	Total    int64      `json:"total"`
	Entries  []lbRow    `json:"entries"`
	Me       *lbRow     `json:"me"`
}

func (p lbPage) ranking() string {
	var b strings.Builder
	for _, e := range p.Entries {
		fmt.Fprintf(&b, "%s:%d#%d ", e.UserID, e.Score, e.Rank)
	}
	return strings.TrimSpace(b.String())
}

func (s *testServer) board(token string, def map[string]any) string {
	s.t.Helper()
	var b struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/leaderboards", token: token, body: def}).json(s.t, &b)
	return b.ID
}

// built waits until board id's background build (points boards) is ready,
// polling under the API's rate limit (50/s): a build folds the ledger, and
// on several nodes first waits 2 s for every node to know the board.
func (s *testServer) built(token, id string) {
	s.t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var b struct {
			Build *struct{ State string } `json:"build"`
		}
		s.must(200, req{method: "GET", path: "/v1/leaderboards/" + id, token: token}).json(s.t, &b)
		if b.Build == nil || b.Build.State == "ready" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("board %s still %q after a minute", id, b.Build.State)
		}
	}
}

func (s *testServer) page(token, path string) lbPage {
	s.t.Helper()
	var p lbPage
	s.must(200, req{method: "GET", path: path, token: token}).json(s.t, &p)
	return p
}

// event sends one event and fails the test unless it is accepted.
func (s *testServer) event(token, key string, body map[string]any) {
	s.t.Helper()
	s.must(200, req{method: "POST", path: "/v1/events", token: token, body: body, header: map[string]string{"Idempotency-Key": key}})
}

// TestLeaderboardTies: equal scores rank the earlier achiever first, even
// when its user id sorts later; a later move up changes that.
func TestLeaderboardTies(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			_, board := s.setupSlice("acme")
			for _, u := range []string{"zed", "amy", "bob"} {
				tok := s.token(u, "acme")
				for i := range 3 {
					s.event(tok, fmt.Sprint(i), map[string]any{"type": "share"})
				}
				time.Sleep(2 * time.Millisecond) // achieved_at is in milliseconds
			}
			p := s.page(s.token("x", "acme"), "/v1/leaderboards/"+board+"/top")
			if got := p.ranking(); got != "zed:50#1 amy:50#2 bob:50#3" {
				t.Fatalf("ties = %s, want the earliest achiever first", got)
			}
			if !p.Entries[0].AchievedAt.Before(p.Entries[1].AchievedAt) {
				t.Fatalf("achieved_at not increasing: %+v", p.Entries)
			}
		})
	}
}

// TestEventBoards: sum, best and latest of an event prop, scoped to one
// quiz, with events arriving out of order and replayed.
func TestEventBoards(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			ids := map[string]string{}
			for _, agg := range []string{"sum", "best", "latest"} {
				ids[agg] = s.board(mgr, map[string]any{
					"name": agg, "source": "event", "event_type": "view", "prop": "score",
					"aggregation": agg, "scope": map[string]any{"type": "quiz", "id": "q1"},
				})
			}
			// Only events that occurred once a board existed count: date
			// them a few minutes from its creation on (within intake's
			// allowance for fast clocks), "ago" counting back from there.
			now := time.Now().UTC().Add(4 * time.Minute)
			ann := s.token("ann", "acme")
			send := func(key string, ago time.Duration, props map[string]any) {
				s.event(ann, key, map[string]any{"type": "view", "props": props, "occurred_at": now.Add(-ago)})
			}
			send("a", 3*time.Minute, map[string]any{"quiz_id": "q1", "score": 7})
			send("b", 1*time.Minute, map[string]any{"quiz_id": "q1", "score": 5})
			send("c", 2*time.Minute, map[string]any{"quiz_id": "q1", "score": 9}) // late arrival
			send("c", 2*time.Minute, map[string]any{"quiz_id": "q1", "score": 9}) // replay
			send("d", 30*time.Second, map[string]any{"quiz_id": "q2", "score": 100})
			send("e", 20*time.Second, map[string]any{"quiz_id": "q1", "score": 2.5})
			send("f", 10*time.Second, map[string]any{"quiz_id": "q1", "score": "11"})
			send("g", 5*time.Second, map[string]any{"quiz_id": "q1"})
			want := map[string]struct {
				score int64
				ago   time.Duration
			}{"sum": {21, time.Minute}, "best": {9, 2 * time.Minute}, "latest": {5, time.Minute}}
			for agg, w := range want {
				p := s.page(ann, "/v1/leaderboards/"+ids[agg]+"/top")
				if len(p.Entries) != 1 || p.Entries[0].Score != w.score ||
					!p.Entries[0].AchievedAt.Equal(now.Add(-w.ago).Truncate(time.Millisecond)) {
					t.Errorf("%s board = %+v, want score %d achieved %s", agg, p.Entries, w.score, now.Add(-w.ago))
				}
			}
		})
	}
}

// TestLeaderboardReads covers the reads a phone makes: display names joined
// into pages, around-me, any user's rank, friends, and my boards.
func TestLeaderboardReads(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			board := s.board(mgr, map[string]any{"name": "Steps", "source": "event", "event_type": "checkin", "prop": "steps"})
			daily := s.board(mgr, map[string]any{"name": "Daily", "source": "event", "event_type": "checkin",
				"prop": "steps", "window": "daily", "time_zone": "Asia/Kolkata"})
			for i := range 10 {
				u := fmt.Sprintf("u%d", i)
				tok := s.token(u, "acme")
				s.must(200, req{method: "PUT", path: "/v1/me/profile", token: tok, body: map[string]any{
					"name": "User " + u, "avatar_url": "https://img.example/" + u + ".png",
				}})
				s.event(tok, "k", map[string]any{"type": "checkin", "props": map[string]any{"steps": 100 * (i + 1)}})
			}
			u3 := s.token("u3", "acme")
			top := s.page(u3, "/v1/leaderboards/"+board+"/top?limit=3")
			if top.ranking() != "u9:1000#1 u8:900#2 u7:800#3" || top.Total != 10 || top.Entries[0].Name != "User u9" ||
				top.Entries[0].AvatarURL != "https://img.example/u9.png" {
				t.Fatalf("top = %+v", top)
			}
			me := s.page(u3, "/v1/leaderboards/"+board+"/me?around=2")
			if me.ranking() != "u5:600#5 u4:500#6 u3:400#7 u2:300#8 u1:200#9" || me.Me == nil || me.Me.Rank != 7 || me.Me.Name != "User u3" {
				t.Fatalf("around me = %+v", me)
			}
			edge := s.page(s.token("u9", "acme"), "/v1/leaderboards/"+board+"/me?around=2")
			if edge.ranking() != "u9:1000#1 u8:900#2 u7:800#3" {
				t.Fatalf("around rank 1 = %s", edge.ranking())
			}
			if nobody := s.page(s.token("new", "acme"), "/v1/leaderboards/"+board+"/me"); nobody.Me != nil || len(nobody.Entries) != 0 {
				t.Fatalf("around an unranked user = %+v", nobody)
			}
			one := s.page(u3, "/v1/leaderboards/"+board+"/users/u8")
			if one.ranking() != "u8:900#2" {
				t.Fatalf("user u8 = %+v", one)
			}
			if typ := s.do(req{method: "GET", path: "/v1/leaderboards/" + board + "/users/nobody", token: u3}).problemType(t); typ != "not-ranked" {
				t.Fatalf("unranked user: %s", typ)
			}
			var friends lbPage
			s.must(200, req{method: "POST", path: "/v1/leaderboards/" + board + "/cohort", token: u3,
				body: map[string]any{"user_ids": []string{"u1", "u8", "u8", "stranger"}}}).json(t, &friends)
			if len(friends.Entries) != 3 || friends.Total != 3 {
				t.Fatalf("cohort = %+v", friends)
			}
			for i, w := range []struct {
				user            string
				rank, boardRank int64
			}{{"u8", 1, 2}, {"u3", 2, 7}, {"u1", 3, 9}} {
				if e := friends.Entries[i]; e.UserID != w.user || e.Rank != w.rank || e.BoardRank != w.boardRank || e.Name != "User "+w.user {
					t.Fatalf("cohort entry %d = %+v, want %+v", i, e, w)
				}
			}
			var mine struct {
				Standings []struct {
					Board  struct{ ID string } `json:"board"`
					Period string              `json:"period"`
					Rank   int64               `json:"rank"`
					Score  int64               `json:"score"`
				} `json:"standings"`
			}
			s.must(200, req{method: "GET", path: "/v1/me/leaderboards", token: u3}).json(t, &mine)
			if len(mine.Standings) != 2 || mine.Standings[0].Rank != 7 || mine.Standings[1].Rank != 7 || mine.Standings[0].Score != 400 {
				t.Fatalf("my boards = %+v", mine)
			}

			// Periods: the daily board's current period follows Kolkata's
			// calendar; yesterday is readable and empty; a period past the
			// retention is gone; nonsense is a 400.
			cur := s.page(u3, "/v1/leaderboards/"+daily+"/top")
			kolkata, _ := time.LoadLocation("Asia/Kolkata")
			if today := time.Now().In(kolkata).Format("2006-01-02"); cur.Period != today || cur.Total != 10 || cur.ResetsAt == nil {
				t.Fatalf("daily current = %+v, want period %s", cur, today)
			}
			if prev := s.page(u3, "/v1/leaderboards/"+daily+"/top?window=previous"); prev.Total != 0 || prev.Period == cur.Period {
				t.Fatalf("daily previous = %+v", prev)
			}
			if typ := s.do(req{method: "GET", path: "/v1/leaderboards/" + daily + "/top?window=2020-01-01", token: u3}).problemType(t); typ != "period-expired" {
				t.Fatalf("expired period: %s", typ)
			}
			if typ := s.do(req{method: "GET", path: "/v1/leaderboards/" + daily + "/top?window=2026-W48", token: u3}).problemType(t); typ != "bad-period" {
				t.Fatalf("weekly name on a daily board: %s", typ)
			}
			if typ := s.do(req{method: "GET", path: "/v1/leaderboards/" + board + "/top?window=previous", token: u3}).problemType(t); typ != "bad-period" {
				t.Fatalf("previous of all-time: %s", typ)
			}
		})
	}
}

// TestLeaderboardExclusion: a manager takes a user off a board; they stay
// off while they keep earning, the audit log says who did it, and
// reinstating puts them back with their exact score.
func TestLeaderboardExclusion(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			board := s.board(mgr, map[string]any{"name": "Steps", "source": "event", "event_type": "checkin", "prop": "steps"})
			cheat, ann := s.token("cheat", "acme"), s.token("ann", "acme")
			s.event(cheat, "1", map[string]any{"type": "checkin", "props": map[string]any{"steps": 99999}})
			s.event(ann, "1", map[string]any{"type": "checkin", "props": map[string]any{"steps": 10}})

			if typ := s.do(req{method: "POST", path: "/v1/leaderboards/" + board + "/exclusions", token: ann,
				body: map[string]any{"user_id": "cheat", "reason": "x"}}).problemType(t); typ != "forbidden" {
				t.Fatalf("player excluding: %s", typ)
			}
			s.must(201, req{method: "POST", path: "/v1/leaderboards/" + board + "/exclusions", token: mgr,
				body: map[string]any{"user_id": "cheat", "reason": "bot traffic"}})
			if p := s.page(ann, "/v1/leaderboards/"+board+"/top"); p.ranking() != "ann:10#1" {
				t.Fatalf("after exclusion = %s", p.ranking())
			}
			s.event(cheat, "2", map[string]any{"type": "checkin", "props": map[string]any{"steps": 5}})
			time.Sleep(4 * time.Second) // past the second removal pass
			if p := s.page(ann, "/v1/leaderboards/"+board+"/top"); p.ranking() != "ann:10#1" {
				t.Fatalf("excluded user came back: %s", p.ranking())
			}
			var log struct {
				Entries []struct {
					Actor, Action, Subject string
					Detail                 map[string]string
				} `json:"entries"`
			}
			s.must(200, req{method: "GET", path: "/v1/audit", token: mgr}).json(t, &log)
			// Newest first, after the board's creation (create-leaderboard).
			if len(log.Entries) != 2 || log.Entries[0].Actor != "boss" || log.Entries[0].Action != "leaderboard.exclude" ||
				log.Entries[0].Subject != "leaderboard:"+board+"/user:cheat" || log.Entries[0].Detail["reason"] != "bot traffic" {
				t.Fatalf("audit = %+v", log)
			}
			s.must(204, req{method: "DELETE", path: "/v1/leaderboards/" + board + "/exclusions/cheat", token: mgr})
			if p := s.page(ann, "/v1/leaderboards/"+board+"/top"); p.ranking() != "cheat:100004#1 ann:10#2" {
				t.Fatalf("after reinstating = %s", p.ranking())
			}
			if typ := s.do(req{method: "DELETE", path: "/v1/leaderboards/" + board + "/exclusions/cheat", token: mgr}).problemType(t); typ != "not-excluded" {
				t.Fatalf("reinstating twice: %s", typ)
			}
			s.must(200, req{method: "GET", path: "/v1/audit", token: mgr}).json(t, &log)
			if len(log.Entries) != 3 || log.Entries[0].Action != "leaderboard.reinstate" {
				t.Fatalf("audit after reinstating = %+v", log)
			}
		})
	}
}

// TestLiveBoard: a burst of writes yields a few throttled snapshots on the
// board's channel, the last of which shows the final board.
func TestLiveBoard(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			board := s.board(mgr, map[string]any{"name": "Steps", "source": "event", "event_type": "checkin", "prop": "steps"})
			ws := s.dial(s.token("viewer", "acme"), "")
			if err := ws.WriteJSON(map[string]any{"op": "subscribe", "channel": "leaderboard:" + board}); err != nil {
				t.Fatal(err)
			}
			readFrames(t, ws, 1, "subscribed")
			start := time.Now()
			const writes = 60
			for i := range writes {
				tok := s.token(fmt.Sprintf("p%d", i%6), "acme")
				s.event(tok, fmt.Sprint(i), map[string]any{"type": "checkin", "props": map[string]any{"steps": i}})
			}
			elapsed := time.Since(start)
			var snaps []wsFrame
			_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				var f wsFrame
				if err := ws.ReadJSON(&f); err != nil {
					break // quiet for 2 s: the burst is over
				}
				if f.Type == "leaderboard.top" {
					snaps = append(snaps, f)
				}
				_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			}
			// At most one snapshot per 500 ms, plus the one after the burst.
			if max := int(elapsed/(500*time.Millisecond)) + 2; len(snaps) == 0 || len(snaps) > max {
				t.Fatalf("%d snapshots for %d writes in %s, want 1..%d", len(snaps), writes, elapsed, max)
			}
			var last lbPage
			if err := json.Unmarshal(snaps[len(snaps)-1].Data, &last); err != nil {
				t.Fatal(err)
			}
			// p_k sent steps k, k+6, …: p5 sums 5+11+…+59 = 320.
			if last.Total != 6 || last.Entries[0].UserID != "p5" || last.Entries[0].Score != 320 || snaps[0].Channel != "leaderboard:"+board {
				t.Fatalf("last snapshot = %+v on %s", last, snaps[0].Channel)
			}
		})
	}
}

// problemField returns the location of an error response's first detail.
func (r response) problemField(t *testing.T) string {
	t.Helper()
	var p struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	r.json(t, &p)
	if len(p.Errors) == 0 {
		t.Fatalf("problem without a field: %s", r.Body)
	}
	return p.Errors[0].Location
}

// TestEventBoardRefusesThePast: a board created a second ago counts none of
// the past-dated events intake accepts (30 days back), and a board's
// max_per_event caps what one huge prop adds; GET shows the cap, and a
// points board or a negative cap is a 422 naming the field.
func TestEventBoardRefusesThePast(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			daily := s.board(mgr, map[string]any{"name": "Daily steps", "source": "event", "event_type": "checkin",
				"prop": "steps", "window": "daily", "max_per_event": 500})
			var def struct {
				MaxPerEvent int64 `json:"max_per_event"`
			}
			s.must(200, req{method: "GET", path: "/v1/leaderboards/" + daily, token: mgr}).json(t, &def)
			if def.MaxPerEvent != 500 {
				t.Fatalf("GET max_per_event = %d, want 500", def.MaxPerEvent)
			}
			cheat := s.token("cheat", "acme")
			yesterday := time.Now().UTC().Add(-24 * time.Hour)
			s.event(cheat, "past", map[string]any{"type": "checkin", "occurred_at": yesterday, "props": map[string]any{"steps": 1_000_000_000}})
			s.event(cheat, "week", map[string]any{"type": "checkin", "occurred_at": yesterday.Add(-6 * 24 * time.Hour), "props": map[string]any{"steps": 7}})
			for _, w := range []string{"previous", yesterday.Format("2006-01-02")} {
				if p := s.page(cheat, "/v1/leaderboards/"+daily+"/top?window="+w); p.Total != 0 {
					t.Fatalf("%s after past-dated events = %+v, want empty", w, p)
				}
			}
			s.event(cheat, "now", map[string]any{"type": "checkin", "props": map[string]any{"steps": 1_000_000}})
			if p := s.page(cheat, "/v1/leaderboards/"+daily+"/top"); p.ranking() != "cheat:500#1" {
				t.Fatalf("today = %s, want one event capped at 500", p.ranking())
			}
			for _, c := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"name": "P", "max_per_event": 10}, "body.max_per_event"},
				{map[string]any{"name": "E", "source": "event", "event_type": "checkin", "max_per_event": -1}, "body.max_per_event"},
			} {
				r := s.do(req{method: "POST", path: "/v1/leaderboards", token: mgr, body: c.body})
				if r.Status != 422 || r.problemField(t) != c.field {
					t.Fatalf("create %v: %d %s, want 422 on %s", c.body, r.Status, r.Body, c.field)
				}
			}
		})
	}
}

// TestPeriodOutOfRange: period names past what boards hold (up to year
// 9999, where JSON cannot even carry the instants in a western zone) are a
// 422 naming the field, in the query and in a cohort body; so is a custom
// span beyond it.
func TestPeriodOutOfRange(t *testing.T) {
	s := startServer(t, deployments()[0].env(t))
	mgr := s.token("boss", "acme", auth.Manager)
	ids := map[string]string{}
	for _, w := range []string{"daily", "weekly", "monthly"} {
		ids[w] = s.board(mgr, map[string]any{"name": w, "window": w, "time_zone": "America/Los_Angeles"})
	}
	ann := s.token("ann", "acme")
	for _, c := range []struct{ window, name string }{{"weekly", "9999-W52"}, {"monthly", "9999-12"}, {"daily", "9999-12-31"}, {"daily", "2300-01-01"}} {
		r := s.do(req{method: "GET", path: "/v1/leaderboards/" + ids[c.window] + "/top?window=" + c.name, token: ann})
		if r.Status != 422 || r.problemType(t) != "period-out-of-range" || r.problemField(t) != "window" {
			t.Fatalf("%s %s: %d %s, want 422 period-out-of-range on window", c.window, c.name, r.Status, r.Body)
		}
		r = s.do(req{method: "POST", path: "/v1/leaderboards/" + ids[c.window] + "/cohort", token: ann,
			body: map[string]any{"user_ids": []string{"bob"}, "window": c.name}})
		if r.Status != 422 || r.problemType(t) != "period-out-of-range" || r.problemField(t) != "body.window" {
			t.Fatalf("cohort %s %s: %d %s, want 422 on body.window", c.window, c.name, r.Status, r.Body)
		}
	}
	r := s.do(req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{
		"name": "Far", "window": "custom", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "9999-12-31T23:00:00-08:00"}})
	if r.Status != 422 || r.problemField(t) != "body.ends_at" {
		t.Fatalf("custom span to year 10000: %d %s, want 422 on body.ends_at", r.Status, r.Body)
	}
}

// TestCohortChecksUserIDs: the users of a cohort body follow intake's
// user-id rule, each refusal naming the item.
func TestCohortChecksUserIDs(t *testing.T) {
	s := startServer(t, deployments()[0].env(t))
	board := s.board(s.token("boss", "acme", auth.Manager), map[string]any{"name": "All", "window": "all_time"})
	ann := s.token("ann", "acme")
	for _, bad := range []string{"a b", "x\u0000", `{"$ne":null}`, "erased:1", ""} {
		r := s.do(req{method: "POST", path: "/v1/leaderboards/" + board + "/cohort", token: ann,
			body: map[string]any{"user_ids": []string{"bob", bad}}})
		if r.Status != 422 || r.problemType(t) != "bad-user-id" || r.problemField(t) != "body.user_ids[1]" {
			t.Fatalf("cohort with %q: %d %s, want 422 bad-user-id on body.user_ids[1]", bad, r.Status, r.Body)
		}
	}
	s.must(200, req{method: "POST", path: "/v1/leaderboards/" + board + "/cohort", token: ann,
		body: map[string]any{"user_ids": []string{"bob", "auth0|abc123", "user@example.com"}}})
}

// TestPointsBoardBuildsInBackground: on a tenant with a large ledger,
// creating a points board answers at once with the build under way; the
// board's GET shows the build's progress until it is ready and exact.
func TestPointsBoardBuildsInBackground(t *testing.T) {
	const users = 300
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			entries := int64(20_000)
			if d.name == "mongo" {
				entries = 3_000 // FerretDB, CI's stand-in, inserts one by one slowly
			}
			env := d.env(t)
			env["QL_DATA_DIR"] = t.TempDir()
			seedLedger(t, env, entries, users)
			s := startServer(t, env)
			mgr := s.token("boss", "acme", auth.Manager)
			type board struct {
				ID    string `json:"id"`
				Build *struct {
					State string `json:"state"`
					Done  int64  `json:"done"`
					Total int64  `json:"total"`
				} `json:"build"`
			}
			var b board
			s.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{"name": "All time"}}).json(t, &b)
			if b.Build == nil || b.Build.State != "building" {
				t.Fatalf("created board = %+v, want its build under way", b)
			}
			states := map[string]bool{}
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) { // under the rate limit
				var got board
				s.must(200, req{method: "GET", path: "/v1/leaderboards/" + b.ID, token: mgr}).json(t, &got)
				if got.Build == nil {
					t.Fatalf("board lost its build state: %+v", got)
				}
				states[got.Build.State] = true
				if got.Build.State == "ready" {
					if got.Build.Done != entries || got.Build.Total != entries {
						t.Fatalf("finished build = %+v, want %d of %d", got.Build, entries, entries)
					}
					break
				}
				if got.Build.State != "building" || time.Now().After(deadline) {
					t.Fatalf("build = %+v", got.Build)
				}
			}
			if p := s.page(mgr, "/v1/leaderboards/"+b.ID+"/top?limit=1"); p.Total != users {
				t.Fatalf("built board has %d members, want %d", p.Total, users)
			}
			t.Logf("states seen: %v", states)
		})
	}
}

// seedLedger writes n ledger entries of tenant acme, spread over users,
// straight into the store the server started with env will open.
func seedLedger(t *testing.T, env map[string]string, n, users int64) {
	t.Helper()
	ctx := context.Background()
	var st interface {
		InsertEntry(context.Context, points.Entry) (points.Entry, bool, error)
		Close() error
	}
	var err error
	if uri := env["MONGO_URI"]; uri != "" {
		st, err = mongo.Open(ctx, uri, env["QL_MONGO_DB"])
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(env["QL_DATA_DIR"], "questline.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if _, _, err := st.InsertEntry(ctx, points.Entry{
					ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: fmt.Sprintf("u%d", i%users),
					Amount: 1 + i%5, Key: fmt.Sprintf("seed-%d", i), Reason: "seed", CreatedAt: time.Now(),
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
