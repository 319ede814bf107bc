package main

import (
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

type summaryBody struct {
	Participants int64 `json:"participants"`
	Events       int64 `json:"events"`
	ActiveToday  int64 `json:"active_users_today"`
	Completions  int64 `json:"challenge_completions"`
	Points       struct {
		Issued      int64   `json:"issued"`
		Outstanding int64   `json:"outstanding"`
		Value       float64 `json:"outstanding_value"`
	} `json:"points"`
}

// TestAnalytics: events and credits are counted once (a replayed
// idempotency key and a restart change nothing), the reports agree, CSV
// exports work and bad parameters answer 422 naming the field.
func TestAnalytics(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) { testAnalytics(t, d.env(t)) })
	}
}

func testAnalytics(t *testing.T, env map[string]string) {
	s := startServer(t, env)
	mgr := s.token("boss", "acme", auth.Manager)
	ch := s.publish(mgr, map[string]any{"name": "Share twice", "event_type": "share", "target": 2, "reward_points": 10})
	alice, bob := s.token("alice", "acme"), s.token("bob", "acme")
	s.event(alice, "a1", map[string]any{"type": "share"})
	s.event(alice, "a2", map[string]any{"type": "share"})
	s.event(alice, "a1", map[string]any{"type": "share"}) // a replay
	s.event(bob, "b1", map[string]any{"type": "share"})
	s.must(200, req{method: "PUT", path: "/v1/analytics/settings", token: mgr, body: map[string]any{"currency": "EUR", "point_value": 0.5}})
	s.shutdown()
	s.start()

	var sum summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &sum)
	if sum.Participants != 2 || sum.Events != 3 || sum.ActiveToday != 2 || sum.Completions != 1 || sum.Points.Issued != 10 || sum.Points.Value != 5 {
		t.Fatalf("summary %+v", sum)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	var series struct {
		Days []struct {
			Date   string
			Events int64
		}
	}
	s.must(200, req{method: "GET", path: "/v1/analytics/series?from=" + today + "&to=" + today + "&tz=UTC", token: mgr}).json(t, &series)
	if len(series.Days) != 1 || series.Days[0].Events != 3 {
		t.Fatalf("series %+v", series)
	}
	csv := s.must(200, req{method: "GET", path: "/v1/analytics/series/export?from=" + today + "&to=" + today, token: mgr})
	if !strings.HasPrefix(string(csv.Body), "date,events,") || !strings.Contains(string(csv.Body), today+",3,") {
		t.Fatalf("csv %s", csv.Body)
	}
	var st struct{ Count, Participants int64 }
	s.must(200, req{method: "GET", path: "/v1/analytics/challenges/" + ch, token: mgr}).json(t, &st)
	if st.Count != 1 || st.Participants != 2 {
		t.Fatalf("challenge stats %+v", st)
	}
	// A rebuild folds the stored events again under the same keys: nothing changes.
	var job struct{ Status string }
	r := s.must(202, req{method: "POST", path: "/v1/analytics/rebuild", token: mgr})
	r.json(t, &job)
	for deadline := time.Now().Add(10 * time.Second); job.Status == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("rebuild still running")
		}
		s.must(200, req{method: "GET", path: r.Header.Get("Location"), token: mgr}).json(t, &job)
	}
	var again summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &again)
	if job.Status != "done" || again.Events != 3 || again.Participants != 2 || again.Completions != 1 {
		t.Fatalf("after a rebuild (%s): %+v", job.Status, again)
	}
	s.must(404, req{method: "GET", path: "/v1/analytics/challenges/" + ch, token: s.token("boss", "globex", auth.Manager)})
	board := s.board(mgr, map[string]any{"name": "All-time points", "window": "all_time"})
	s.built(mgr, board)
	var bs struct{ Participants, Excluded int64 }
	s.must(200, req{method: "GET", path: "/v1/analytics/leaderboards/" + board, token: mgr}).json(t, &bs)
	if bs.Participants != 1 || bs.Excluded != 0 {
		t.Fatalf("board stats %+v", bs)
	}
	s.must(404, req{method: "GET", path: "/v1/analytics/leaderboards/" + board, token: s.token("boss", "globex", auth.Manager)})
	// A reversed credit leaves the outstanding liability, once.
	s.earnRule(mgr, map[string]any{"name": "7 a purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 7}})
	var bought eventResult
	s.must(200, req{method: "POST", path: "/v1/events", header: map[string]string{"X-API-Key": s.apiKey("acme"), "Idempotency-Key": "buy-1"},
		body: map[string]any{"type": "purchase", "user_id": "bob"}}).json(t, &bought)
	for range 2 {
		s.must(200, req{method: "POST", path: "/v1/events/" + bought.EventID + "/reverse-earnings", token: mgr})
	}
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &again)
	if again.Points.Issued != 17 || again.Points.Outstanding != 10 {
		t.Fatalf("after a reversal: %+v", again.Points)
	}
	s.must(403, req{method: "GET", path: "/v1/analytics/summary", token: alice})
	for _, tc := range []struct{ path, field string }{
		{"/v1/analytics/series?from=" + today + "&to=" + today + "&tz=Mars/Olympus", "tz"},
		{"/v1/analytics/series?from=2026-13-01&to=" + today, "from"},
		{"/v1/analytics/series?from=2020-01-01&to=2026-01-01", "to"},
		{"/v1/analytics/challenges/" + ch + "?from=" + today, "from"},
		{"/v1/analytics/fraud?days=0", "days"},
	} {
		r := s.must(422, req{method: "GET", path: tc.path, token: mgr})
		if f := r.problemField(t); !strings.HasSuffix(f, tc.field) {
			t.Errorf("%s: field %s, want %s", tc.path, f, tc.field)
		}
	}
}

// TestBacktest: a draft challenge replayed over the stored events answers
// who would have completed and what it would have paid, and writes
// nothing (the player's challenges and the ledger are unchanged).
func TestBacktest(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) { testBacktest(t, d.env(t)) })
	}
}

func testBacktest(t *testing.T, env map[string]string) {
	s := startServer(t, env)
	mgr := s.token("boss", "acme", auth.Manager)
	alice, bob := s.token("alice", "acme"), s.token("bob", "acme")
	for i, tok := range []string{alice, alice, bob, alice} {
		s.event(tok, "e"+string(rune('0'+i)), map[string]any{"type": "share"})
	}
	var draft struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr,
		body: map[string]any{"name": "Share twice", "event_type": "share", "target": 2, "reward_points": 7}}).json(t, &draft)
	var job struct {
		ID, Status string
		Result     *struct {
			Progressed  int64 `json:"users_progressed"`
			Completed   int64 `json:"users_completed"`
			Completions int64
			Points      int64
			Curve       []struct{ Count int64 } `json:"completion_curve"`
		}
	}
	r := s.must(202, req{method: "POST", path: "/v1/challenges/" + draft.ID + "/backtest", token: mgr, body: map[string]any{"days": 1}})
	r.json(t, &job)
	loc := r.Header.Get("Location")
	for deadline := time.Now().Add(10 * time.Second); job.Status == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("backtest still running")
		}
		s.must(200, req{method: "GET", path: loc, token: mgr}).json(t, &job)
	}
	res := job.Result
	if job.Status != "done" || res == nil || res.Progressed != 2 || res.Completed != 1 || res.Completions != 1 || res.Points != 7 ||
		len(res.Curve) != 1 || res.Curve[0].Count != 1 {
		t.Fatalf("backtest %+v %+v", job, res)
	}
	var sum summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &sum)
	if sum.Points.Issued != 0 || sum.Completions != 0 {
		t.Fatalf("the backtest wrote: %+v", sum)
	}
	s.must(404, req{method: "GET", path: loc, token: s.token("boss", "globex", auth.Manager)})
	s.must(422, req{method: "POST", path: "/v1/challenges/" + draft.ID + "/backtest", token: mgr, body: map[string]any{"days": 0}})

	// A badge for three shares: alice alone would have earned it.
	badge := s.badge(mgr, map[string]any{"name": "Sharer", "rule": map[string]any{"goals": []any{
		map[string]any{"kind": "count", "event_type": "share", "target": 3}}}})
	r = s.must(202, req{method: "POST", path: "/v1/badges/" + badge + "/backtest", token: mgr, body: map[string]any{"days": 1}})
	r.json(t, &job)
	loc = r.Header.Get("Location")
	for deadline := time.Now().Add(10 * time.Second); job.Status == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("badge backtest still running")
		}
		s.must(200, req{method: "GET", path: loc, token: mgr}).json(t, &job)
	}
	if res := job.Result; job.Status != "done" || res == nil || res.Progressed != 2 || res.Completed != 1 || res.Points != 0 {
		t.Fatalf("badge backtest %+v %+v", job, res)
	}
}

// TestAnalyticsFunnel: a challenge of two goals reports how many users met
// each and how many dropped off between steps.
func TestAnalyticsFunnel(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) { testAnalyticsFunnel(t, d.env(t)) })
	}
}

func testAnalyticsFunnel(t *testing.T, env map[string]string) {
	s := startServer(t, env)
	mgr := s.token("boss", "acme", auth.Manager)
	ch := s.publish(mgr, map[string]any{"name": "Visit then buy", "reward_points": 5, "rule": map[string]any{"goals": []any{
		map[string]any{"id": "visit", "kind": "count", "event_type": "visit", "target": 1},
		map[string]any{"id": "share", "kind": "count", "event_type": "share", "target": 1}}}})
	for i, u := range []string{"a", "b", "c"} {
		tok := s.token(u, "acme")
		s.event(tok, "v"+u, map[string]any{"type": "visit"})
		if i == 0 {
			s.event(tok, "s"+u, map[string]any{"type": "share"})
		}
	}
	var st struct {
		Count, Participants int64
		Steps               []struct {
			Goal    string `json:"goal_id"`
			Met     int64  `json:"users_met"`
			DropOff int64  `json:"drop_off"`
		}
	}
	s.must(200, req{method: "GET", path: "/v1/analytics/challenges/" + ch, token: mgr}).json(t, &st)
	if st.Count != 1 || st.Participants != 3 || len(st.Steps) != 2 || st.Steps[0].Met != 3 || st.Steps[0].DropOff != 0 ||
		st.Steps[1].Met != 1 || st.Steps[1].DropOff != 2 {
		t.Fatalf("funnel %+v", st)
	}
}
