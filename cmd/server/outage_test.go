package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

// TestRedisOutage: with Redis killed, intake keeps answering and storing
// (points and event boards are fed later), board reads answer 503 naming
// the leaderboards with Retry-After, /readyz says so as a problem; once
// Redis is back (empty, as an unpersisted restart leaves it), the feeder
// catches every board up and the backlog metric returns to 0.
func TestRedisOutage(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testRedisOutage(t, map[string]string{}) })
	if uri := os.Getenv("MONGO_URI"); uri != "" {
		t.Run("mongo", func(t *testing.T) {
			testRedisOutage(t, map[string]string{"MONGO_URI": uri, "QL_MONGO_DB": mongoDB(t)})
		})
	}
}

func testRedisOutage(t *testing.T, env map[string]string) {
	r := redistest.StartOutage(t)
	env["REDIS_URL"] = r.URL()
	s := startServer(t, env)
	tn := "acme"
	_, points := s.setupSlice(tn)
	mgr := s.token("boss", tn, auth.Manager)
	var steps struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{
		"name": "Steps", "source": "event", "event_type": "checkin", "prop": "steps", "window": "all_time",
	}}).json(t, &steps)
	key := s.apiKey(tn)
	alice := s.token("alice", tn)

	r.Kill()
	for i := range 3 {
		var res eventResult
		s.must(200, req{method: "POST", path: "/v1/events", token: alice, body: map[string]any{"type": "share"},
			header: map[string]string{"Idempotency-Key": "share-" + strconv.Itoa(i)}}).json(t, &res)
		if i == 2 && (len(res.Points) != 1 || res.Points[0].Amount != 50) {
			t.Fatalf("third share paid %+v, want 50 points", res.Points)
		}
	}
	s.trusted(key, "alice", "walk-1", map[string]any{"type": "checkin", "props": map[string]any{"steps": 1234}})
	if w := s.wallet(alice); w.Balance != 50 {
		t.Fatalf("wallet during the outage = %+v, want 50", w)
	}

	for _, path := range []string{"/top", "/me", "/users/alice"} {
		resp := s.do(req{method: "GET", path: "/v1/leaderboards/" + points + path, token: alice})
		if resp.Status != 503 || resp.problemType(t) != "leaderboards-unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("GET %s during the outage: %d %s %v", path, resp.Status, resp.Body, resp.Header)
		}
	}
	ready := s.do(req{method: "GET", path: "/readyz"})
	if ready.Status != 503 || ready.problemType(t) != "unavailable" || !strings.Contains(string(ready.Body), "leaderboards") {
		t.Fatalf("readyz during the outage: %d %s", ready.Status, ready.Body)
	}
	if n := s.metric("questline_board_feed_pending"); n < 2 {
		t.Fatalf("questline_board_feed_pending = %v during the outage, want >= 2", n)
	}

	r.Start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, q := s.tryTop(alice, points), s.tryTop(alice, steps.ID)
		if len(p.Entries) == 1 && p.Entries[0].Score == 50 && len(q.Entries) == 1 && q.Entries[0].Score == 1234 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boards did not catch up: points %+v, steps %+v", p, q)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for s.metric("questline_board_feed_pending") != 0 || s.metric("questline_board_feed_lag_seconds") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("feed backlog metrics did not return to 0")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tryTop is top that tolerates a 503 (an empty page) while Redis restarts.
func (s *testServer) tryTop(token, board string) boardPage {
	var p boardPage
	if resp := s.do(req{method: "GET", path: "/v1/leaderboards/" + board + "/top?limit=100", token: token}); resp.Status == 200 {
		resp.json(s.t, &p)
	}
	return p
}

// metric reads one unlabelled sample from /metrics.
func (s *testServer) metric(name string) float64 {
	s.t.Helper()
	body := string(s.must(200, req{method: "GET", path: "/metrics"}).Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		s.t.Fatalf("metrics lack %s", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// TestRedisHang: a Redis that keeps its connections open and never answers
// (SIGSTOP here; a stuck command or a lost network path in production)
// costs each request a bounded wait, never a 500: intake answers and pays,
// board reads and /readyz answer 503 within seconds, and once Redis answers
// again the boards catch up. Before the bounds, a share took 5-10 s and
// could fail 500, a board read 30-54 s.
func TestRedisHang(t *testing.T) {
	r := redistest.StartOutage(t)
	s := startServer(t, map[string]string{"REDIS_URL": r.URL()})
	tn := "acme"
	_, points := s.setupSlice(tn)
	alice := s.token("alice", tn)
	const bound = 4 * time.Second // the limiter's 250 ms, a push's and a board call's 2 s, with room for a slow machine
	timed := func(what string, want int, rq req) response {
		t.Helper()
		start := time.Now()
		resp := s.do(rq)
		if took := time.Since(start); resp.Status != want || took > bound {
			t.Fatalf("%s with Redis hung: %d after %v, want %d within %v: %s", what, resp.Status, took, want, bound, resp.Body)
		}
		return resp
	}

	r.Pause()
	for i := range 3 {
		resp := timed("share "+strconv.Itoa(i), 200, req{method: "POST", path: "/v1/events", token: alice,
			body: map[string]any{"type": "share"}, header: map[string]string{"Idempotency-Key": "share-" + strconv.Itoa(i)}})
		var res eventResult
		resp.json(t, &res)
		if i == 2 && (len(res.Points) != 1 || res.Points[0].Amount != 50) {
			t.Fatalf("third share paid %+v, want 50 points", res.Points)
		}
	}
	for _, path := range []string{"/top", "/me"} {
		resp := timed("GET "+path, 503, req{method: "GET", path: "/v1/leaderboards/" + points + path, token: alice})
		if resp.problemType(t) != "leaderboards-unavailable" {
			t.Fatalf("GET %s: %s, want leaderboards-unavailable", path, resp.Body)
		}
	}
	timed("readyz", 503, req{method: "GET", path: "/readyz"})

	r.Resume()
	deadline := time.Now().Add(60 * time.Second)
	for p := s.tryTop(alice, points); len(p.Entries) != 1 || p.Entries[0].Score != 50; p = s.tryTop(alice, points) {
		if time.Now().After(deadline) {
			t.Fatalf("the points board did not catch up: %+v", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	timed("readyz after the hang", 200, req{method: "GET", path: "/readyz"})
}
