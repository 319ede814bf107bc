package main

import (
	"fmt"
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
	status := s.rebuildAnalytics(mgr)
	var again summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &again)
	if status != "done" || again.Events != 3 || again.Participants != 2 || again.Completions != 1 {
		t.Fatalf("after a rebuild (%s): %+v", status, again)
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

// rebuildAnalytics runs a rollup rebuild to its end and returns its status.
func (s *testServer) rebuildAnalytics(mgr string) string {
	s.t.Helper()
	var job struct{ Status string }
	r := s.must(202, req{method: "POST", path: "/v1/analytics/rebuild", token: mgr})
	r.json(s.t, &job)
	for deadline := time.Now().Add(10 * time.Second); job.Status == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("rebuild still running")
		}
		s.must(200, req{method: "GET", path: r.Header.Get("Location"), token: mgr}).json(s.t, &job)
	}
	return job.Status
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

// TestAnalyticsDomains: quizzes, UGC and contests over HTTP. Attempts
// begun, finished early and finished; submissions approved (twice),
// rejected, removed and left pending; a prize draw with earned and bought
// tickets, drawn twice. Stats, summary and series count each exactly once,
// across a restart and a rebuild; another tenant's or a missing id is 404.
func TestAnalyticsDomains(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_DRAW_SETTLE"] = "1ms"
			testAnalyticsDomains(t, env)
		})
	}
}

type quizStatsBody struct {
	Participants, Attempts, Completions, Unfinished, Passes int64
	PassRate                                                float64 `json:"pass_rate"`
	MeanScore                                               float64 `json:"mean_score"`
	MeanMax                                                 float64 `json:"mean_max_score"`
	Questions                                               []struct {
		Position   int
		QuestionID string `json:"question_id"`
		Answered   int64
		DropOff    int64 `json:"drop_off"`
	}
	Days []struct {
		Date                string
		Completions, Passes int64
	}
}

type domainSummary struct {
	Quizzes struct{ Completions, Passes int64 }
	UGC     struct {
		Received, Pending, Approved, Rejected, Removed int64
		Rate                                           float64 `json:"approval_rate"`
		Ever                                           int64   `json:"ever_approved"`
	}
	Winners int64 `json:"contest_winners"`
}

func testAnalyticsDomains(t *testing.T, env map[string]string) {
	s := startServer(t, env)
	mgr, globex := s.token("boss", "acme", auth.Manager), s.token("boss", "globex", auth.Manager)
	quiz := analyticsQuiz(t, s, mgr)
	analyticsUGC(s)
	contest := analyticsDraw(t, s, mgr)
	check := func(when string) {
		t.Helper()
		var q quizStatsBody
		today := time.Now().UTC().Format(time.DateOnly)
		s.must(200, req{method: "GET", path: "/v1/analytics/quizzes/" + quiz + "?from=" + today + "&to=" + today, token: mgr}).json(t, &q)
		steps := fmt.Sprint(q.Questions)
		if q.Participants != 3 || q.Attempts != 4 || q.Completions != 2 || q.Unfinished != 2 || q.Passes != 1 || q.PassRate != 0.5 ||
			q.MeanScore != 1.5 || q.MeanMax != 3 || steps != "[{1 a 2 0} {2 b 1 1} {3 c 1 0}]" ||
			len(q.Days) != 1 || q.Days[0].Completions != 2 || q.Days[0].Passes != 1 {
			t.Fatalf("%s: quiz stats %+v", when, q)
		}
		var sum domainSummary
		s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &sum)
		u := sum.UGC
		if sum.Quizzes.Completions != 2 || sum.Quizzes.Passes != 1 || sum.Winners != 2 || u.Received != 4 || u.Pending != 1 ||
			u.Approved != 1 || u.Rejected != 1 || u.Removed != 1 || u.Rate != 0.3333 || u.Ever != 2 {
			t.Fatalf("%s: summary %+v", when, sum)
		}
		var series struct {
			Days []struct {
				Quiz    int64 `json:"quiz_completions"`
				UGC     int64 `json:"ugc_approved"`
				Winners int64 `json:"contest_winners"`
			}
		}
		s.must(200, req{method: "GET", path: "/v1/analytics/series?from=" + today + "&to=" + today, token: mgr}).json(t, &series)
		if d := series.Days[0]; d.Quiz != 2 || d.UGC != 2 || d.Winners != 2 {
			t.Fatalf("%s: series %+v", when, series)
		}
		var c struct {
			Entries struct {
				Entrants, Tickets, Earned, Bought int64
				Spent                             int64 `json:"points_spent"`
			}
			Places, Winners, Paid int
			Totals                struct{ Points, Other int64 } `json:"prizes_paid"`
		}
		s.must(200, req{method: "GET", path: "/v1/analytics/contests/" + contest, token: mgr}).json(t, &c)
		if e := c.Entries; e.Entrants != 2 || e.Tickets != 3 || e.Earned != 2 || e.Bought != 1 || e.Spent != 5 ||
			c.Places != 2 || c.Winners != 2 || c.Paid != 2 || c.Totals.Points != 100 || c.Totals.Other != 1 {
			t.Fatalf("%s: contest stats %+v", when, c)
		}
		csv := string(s.must(200, req{method: "GET", path: "/v1/analytics/quizzes/" + quiz + "/export?from=" + today + "&to=" + today, token: mgr}).Body)
		if csv != "date,completions,passes\nall,2,1\n"+today+",2,1\n" {
			t.Fatalf("%s: quiz csv %q", when, csv)
		}
		csv = string(s.must(200, req{method: "GET", path: "/v1/analytics/contests/" + contest + "/export", token: mgr}).Body)
		sumCSV := string(s.must(200, req{method: "GET", path: "/v1/analytics/summary/export", token: mgr}).Body)
		if !strings.Contains(csv, "\ntickets_bought,1\n") || !strings.Contains(csv, "\npoints_spent,5\n") ||
			!strings.Contains(sumCSV, "\nugc_approval_rate,0.3333\n") || !strings.Contains(sumCSV, "\nquiz_passes,1\n") {
			t.Fatalf("%s: csv %s\n%s", when, csv, sumCSV)
		}
	}
	check("first read")
	s.shutdown()
	s.start()
	if status := s.rebuildAnalytics(mgr); status != "done" {
		t.Fatalf("rebuild %s", status)
	}
	check("after a restart and a rebuild")
	for _, p := range []string{"/v1/analytics/quizzes/" + quiz, "/v1/analytics/contests/" + contest, "/v1/analytics/quizzes/" + quiz + "/export",
		"/v1/analytics/contests/" + contest + "/export"} {
		s.must(404, req{method: "GET", path: p, token: globex})
	}
	s.must(404, req{method: "GET", path: "/v1/analytics/quizzes/01900000-0000-7000-8000-00000000dead", token: mgr})
	s.must(404, req{method: "GET", path: "/v1/analytics/contests/01900000-0000-7000-8000-00000000dead", token: mgr})
	if f := s.must(422, req{method: "GET", path: "/v1/analytics/quizzes/" + quiz + "?from=2026-01-01", token: mgr}).problemField(t); !strings.HasSuffix(f, "from") {
		t.Fatalf("field %s", f)
	}
}

// analyticsQuiz plays a three-question quiz: alice answers all three
// right (passes), bob answers one wrong and finishes (twice), carol
// begins and stops, alice begins a second attempt.
func analyticsQuiz(t *testing.T, s *testServer, mgr string) string {
	tf := func(id string) map[string]any {
		return map[string]any{"id": id, "type": "true_false", "text": id + "?", "correct": []string{"true"}}
	}
	quiz := s.quiz(mgr, map[string]any{"name": "Three", "pass_mark": 50, "questions": []any{tf("a"), tf("b"), tf("c")}})
	start := func(tok string) string {
		var a struct{ ID string }
		s.must(201, req{method: "POST", path: "/v1/quizzes/" + quiz + "/attempts", token: tok}).json(t, &a)
		return a.ID
	}
	alice, bob, carol := s.token("alice", "acme"), s.token("bob", "acme"), s.token("carol", "acme")
	a := start(alice)
	for _, q := range []string{"a", "b", "c"} {
		s.must(200, req{method: "POST", path: "/v1/attempts/" + a + "/answers", token: alice, body: map[string]any{"question_id": q, "choices": []string{"true"}}})
	}
	b := start(bob)
	s.must(200, req{method: "POST", path: "/v1/attempts/" + b + "/answers", token: bob, body: map[string]any{"question_id": "a", "choices": []string{"false"}}})
	for range 2 { // a second finish answers as the first did
		s.must(200, req{method: "POST", path: "/v1/attempts/" + b + "/finish", token: bob})
	}
	start(carol)
	start(alice)
	return quiz
}

// analyticsUGC leaves one review pending, one approved (approved twice),
// one rejected and one removed after its approval.
func analyticsUGC(s *testServer) {
	mod := s.token("mod", "acme", auth.Moderator)
	decide := func(id, action, reason string) {
		s.must(200, req{method: "POST", path: "/v1/submissions/" + id + "/" + action, token: mod, body: map[string]any{"reason": reason}})
	}
	kept := s.approvedReview("acme", "dan", "p1", "A first review of the kettle, it boils water quickly and quietly.")
	decide(kept, "approve", "ok") // a repeat changes nothing
	removed := s.approvedReview("acme", "eve", "p2", "The toaster burns everything evenly, which is a kind of consistency.")
	decide(removed, "remove", "abusive")
	rej := s.submit(s.token("fay", "acme"), map[string]any{"kind": "review", "product_id": "p3", "rating": 2, "body": "Lamp flickers at night when the neighbours run their washing machine."})
	decide(rej.ID, "reject", "spam")
	s.submit(s.token("gus", "acme"), map[string]any{"kind": "review", "product_id": "p4", "rating": 5, "body": "Blender crushes ice in seconds and cleans up easily afterwards."})
}

// analyticsDraw runs a prize draw of two places: u1 earns a ticket and
// buys one (the purchase retried), u2 earns one; it is drawn twice.
func analyticsDraw(t *testing.T, s *testServer, mgr string) string {
	s.earnRule(mgr, map[string]any{"name": "10 a visit", "rule": map[string]any{"kind": "fixed", "event_type": "visit", "points": 10}})
	var c contestView
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
		"name": "Draw", "kind": "draw", "starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(time.Hour),
		"prizes": []any{map[string]any{"description": "100 points", "quantity": 1, "points": 100}, map[string]any{"description": "A mug", "quantity": 1}},
		"earn":   []any{map[string]any{"event_type": "visit"}}, "max_entries_per_user": 3, "points_per_entry": 5,
	}}).json(t, &c)
	u1, u2 := s.token("u1", "acme"), s.token("u2", "acme")
	s.event(u1, "v1", map[string]any{"type": "visit"})
	s.event(u2, "v2", map[string]any{"type": "visit"})
	for range 2 {
		s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/enter", token: u1, header: map[string]string{"Idempotency-Key": "buy-1"},
			body: map[string]any{"buy": 1}})
	}
	s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/end", token: mgr, body: map[string]any{"reason": "analytics test"}})
	time.Sleep(5 * time.Millisecond)
	for range 2 {
		s.must(200, req{method: "POST", path: "/v1/contests/" + c.ID + "/draw", token: mgr})
	}
	return c.ID
}
