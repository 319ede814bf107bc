package main

import (
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

// backtestJob is a backtest job as the API answers it, with the fields of
// every kind's result.
type backtestJob struct {
	ID, Kind, Status string
	Scanned          int64 `json:"scanned_events"`
	Result           *struct {
		// challenges and badges
		Completed   int64 `json:"users_completed"`
		Completions int64
		// earn rules
		Matched  int64 `json:"users_matched"`
		Paid     int64 `json:"users_paid"`
		Payouts  int64
		Points   int64
		PerWeek  int64 `json:"points_per_week"`
		Capped   int64 `json:"points_capped"`
		WithTier int64 `json:"users_with_tier"`
		Daily    []struct{ Points int64 }
		// boards
		Source  string
		Periods []boardPeriod
		Current *boardPeriod
	}
}

type boardPeriod struct {
	Period       string
	Participants int64
	Top          []struct {
		User  string `json:"user_id"`
		Score int64
	}
}

// backtest starts a backtest with POST path and polls its Location until
// it is done.
func (s *testServer) backtest(token, path string, body any) backtestJob {
	s.t.Helper()
	var job backtestJob
	r := s.must(202, req{method: "POST", path: path, token: token, body: body})
	r.json(s.t, &job)
	loc := r.Header.Get("Location")
	for deadline := time.Now().Add(10 * time.Second); job.Status == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s still running", path)
		}
		s.must(200, req{method: "GET", path: loc, token: token}).json(s.t, &job)
	}
	if job.Status != "done" || job.Result == nil {
		s.t.Fatalf("%s: %+v", path, job)
	}
	return job
}

// TestBacktestDrafts: a paused earn rule, a board definition and a
// challenge with a rolling window are replayed over the stored events,
// answering what they would have paid and ranked, and writing nothing.
func TestBacktestDrafts(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) { testBacktestDrafts(t, d) })
	}
}

func testBacktestDrafts(t *testing.T, d deployment) {
	s, mgr, key, _ := startLoyalty(t, d)
	s.must(200, req{method: "PUT", path: "/v1/users/alice/attributes", token: mgr, body: map[string]any{"tier": "gold", "segments": []string{}}})
	// A live challenge pays 7 for a first purchase: the ledger a points board replays.
	s.publish(mgr, map[string]any{"name": "First purchase", "event_type": "purchase", "target": 1, "reward_points": 7})
	for i, amount := range []float64{30, 45.5, 12} {
		s.purchase(key, "alice-"+string(rune('a'+i)), "alice", map[string]any{"amount": amount})
	}
	s.purchase(key, "bob-a", "bob", map[string]any{"amount": 80})
	var before summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &before)

	// 10 a purchase, 25 a day at most, 2x for gold: alice 20+5+0, bob 10.
	rule := s.earnRule(mgr, map[string]any{"name": "Draft", "status": "paused", "rule": map[string]any{
		"kind": "fixed", "event_type": "purchase", "points": 10, "caps": map[string]any{"per_day": 25},
		"tier_multipliers": map[string]any{"gold": 2}}})
	job := s.backtest(mgr, "/v1/earn-rules/"+rule+"/backtest", map[string]any{"days": 7})
	if res := job.Result; job.Kind != "earn_rule" || res.Matched != 2 || res.Paid != 2 || res.Payouts != 3 || res.Points != 35 ||
		res.Capped != 35 || res.WithTier != 1 || res.PerWeek != 35 || len(res.Daily) == 0 {
		t.Fatalf("earn rule backtest %+v %+v", job, res)
	}

	// An event board of purchase amounts (45.5 is no integer: it does not
	// score), validated as creating it is.
	buyers := map[string]any{"name": "Buyers", "source": "event", "event_type": "purchase", "prop": "amount",
		"aggregation": "best", "window": "daily", "time_zone": "Pacific/Kiritimati"}
	job = s.backtest(mgr, "/v1/leaderboards/backtest?days=7", buyers)
	if res := job.Result; res.Source != "event" || res.Current == nil || res.Current.Participants != 2 ||
		len(res.Current.Top) != 2 || res.Current.Top[0].User != "bob" || res.Current.Top[0].Score != 80 || res.Current.Top[1].Score != 30 {
		t.Fatalf("board backtest %+v", res)
	}
	points := s.backtest(mgr, "/v1/leaderboards/backtest", map[string]any{"name": "Points", "window": "all_time"})
	if res := points.Result; res.Source != "points" || len(res.Periods) != 1 || res.Periods[0].Participants != 2 || res.Periods[0].Top[0].Score != 7 {
		t.Fatalf("points board backtest %+v", res)
	}
	for _, tc := range []struct {
		body       map[string]any
		typ, field string
	}{
		{map[string]any{"name": "x", "source": "event", "event_type": "nope"}, "unknown-event-type", "body.event_type"},
		{map[string]any{"name": "x", "window": "custom"}, "bad-window", "body.starts_at"},
		{map[string]any{"name": "x", "window": "hourly"}, "validation-failed", "body.window"},
	} {
		r := s.must(422, req{method: "POST", path: "/v1/leaderboards/backtest", token: mgr, body: tc.body})
		if typ, f := r.problemType(t), r.problemField(t); typ != tc.typ || !strings.HasSuffix(f, tc.field) {
			t.Errorf("%v: %s at %s, want %s at %s", tc.body, typ, f, tc.typ, tc.field)
		}
	}

	// A rolling window: two purchases within 24 hours (alice only).
	var rolling struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{"name": "Twice a day", "reward_points": 3,
		"rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "purchase", "target": 2}},
			"window": map[string]any{"rolling": "24h"}}}}).json(t, &rolling)
	job = s.backtest(mgr, "/v1/challenges/"+rolling.ID+"/backtest", map[string]any{"days": 1})
	if res := job.Result; res.Completed != 1 || res.Completions != 1 || res.Points != 3 {
		t.Fatalf("rolling backtest %+v", res)
	}

	var after summaryBody
	s.must(200, req{method: "GET", path: "/v1/analytics/summary", token: mgr}).json(t, &after)
	if after.Points.Issued != before.Points.Issued || after.Points.Issued != 14 || after.Completions != before.Completions {
		t.Fatalf("the backtests wrote: %+v, before %+v", after, before)
	}
	globex := s.token("boss", "globex", auth.Manager)
	s.must(404, req{method: "POST", path: "/v1/earn-rules/" + rule + "/backtest", token: globex, body: map[string]any{"days": 7}})
	s.must(404, req{method: "GET", path: "/v1/earn-rules/" + rule + "/backtests/" + job.ID, token: mgr}) // a challenge's job
	s.must(404, req{method: "GET", path: "/v1/leaderboards/backtests/" + points.ID, token: globex})
	s.must(422, req{method: "POST", path: "/v1/earn-rules/" + rule + "/backtest", token: mgr, body: map[string]any{"days": 0}})
	s.must(422, req{method: "POST", path: "/v1/leaderboards/backtest?days=400", token: mgr, body: buyers})
}
