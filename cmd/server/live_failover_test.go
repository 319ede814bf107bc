package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

// TestLiveDeadlineSurvivesNodeLoss: two server processes share Redis;
// the node that opened a question is killed before its deadline, and the
// other node's sweep closes it at the deadline, broadcasting one result
// with the answer scored.
func TestLiveDeadlineSurvivesNodeLoss(t *testing.T) {
	procs := startProcs(t, 2, map[string]string{"REDIS_URL": redistest.URL(t)})
	a, b := procs[0].server(), procs[1].server()
	mgr := a.token("boss", "acme", auth.Manager)
	id := a.quiz(mgr, liveQuiz(2))
	var open liveView
	a.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/live", token: mgr}).json(t, &open)
	ann := b.token("ann", "acme")
	b.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": open.Code}})
	ws := b.dial(ann, "")
	subscribe(t, ws, open.Channel)
	start := time.Now()
	a.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr})
	b.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/answers", token: ann,
		body: map[string]any{"question_id": "q1", "choices": []string{"b"}}})
	procs[0].kill() // the opener, with its exact timer, is gone

	res := readFrames(t, ws, 1, "quiz.result")[0]
	if el := time.Since(start); el < 2*time.Second || el > 2*time.Second+2*time.Second {
		t.Errorf("results %v after opening a 2 s question, want right after the deadline", el)
	}
	var r struct {
		Answers int `json:"answers"`
		Top     []struct {
			User  string `json:"user_id"`
			Score int64  `json:"score"`
		} `json:"top"`
	}
	if err := json.Unmarshal(res.Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Answers != 1 || len(r.Top) != 1 || r.Top[0].User != "ann" || r.Top[0].Score <= 0 {
		t.Fatalf("result %s, want ann's answer scored", res.Data)
	}
	if n := countFrames(ws, "quiz.result", 1500*time.Millisecond); n != 0 {
		t.Errorf("%d more quiz.result frames, want the results broadcast once", n)
	}
	var v liveView
	b.must(200, req{method: "GET", path: "/v1/live/" + open.SessionID, token: mgr}).json(t, &v)
	if v.Phase != "results" || v.Index != 0 {
		t.Errorf("show after the deadline: phase %s index %d, want results of question 0", v.Phase, v.Index)
	}
}

// countFrames counts the frames of type typ that arrive within d.
func countFrames(c *websocket.Conn, typ string, d time.Duration) int {
	_ = c.SetReadDeadline(time.Now().Add(d))
	n := 0
	for {
		var f wsFrame
		if err := c.ReadJSON(&f); err != nil {
			return n
		}
		if f.Type == typ {
			n++
		}
	}
}

// TestQuizAnswerRateLimit: a player flooding answers gets 429
// problem+json with Retry-After, beyond the general request budget.
func TestQuizAnswerRateLimit(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	var open liveView
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + s.quiz(mgr, liveQuiz(30)) + "/live", token: mgr}).json(t, &open)
	ann := s.token("ann", "acme")
	s.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": open.Code}})
	s.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr})
	var limited response
	for range 20 {
		r := s.do(req{method: "POST", path: "/v1/live/" + open.SessionID + "/answers", token: ann,
			body: map[string]any{"question_id": "q1", "choices": []string{"b"}}})
		if r.Status == 429 {
			limited = r
			break
		}
	}
	if limited.Status != 429 || limited.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(limited.Header.Get("Content-Type"), "application/problem+json") ||
		!strings.Contains(string(limited.Body), "answer-rate-limited") {
		t.Fatalf("flooded answers: %d %v %s, want 429 problem+json with Retry-After", limited.Status, limited.Header, limited.Body)
	}
}
