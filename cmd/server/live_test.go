package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

type liveView struct {
	SessionID   string `json:"session_id"`
	Code        string `json:"code"`
	Channel     string `json:"channel"`
	Phase       string `json:"phase"`
	Index       int    `json:"index"`
	RemainingMS int64  `json:"remaining_ms"`
	Question    *struct {
		ID string `json:"id"`
	} `json:"question"`
	Me *struct {
		Score  int64 `json:"score"`
		Streak int   `json:"streak"`
	} `json:"me"`
	Rank int `json:"rank"`
}

// liveQuiz has two timed questions and rewards for the winner and for
// every participant.
func liveQuiz(seconds int) map[string]any {
	return map[string]any{"name": "Live", "live": map[string]any{
		"winners":     []map[string]any{{"points": 100}},
		"participant": map[string]any{"points": 5},
	}, "questions": []map[string]any{
		{"id": "q1", "type": "single", "text": "Pick b", "time_limit_seconds": seconds, "correct": []string{"b"},
			"options": []map[string]any{{"id": "a", "text": "A"}, {"id": "b", "text": "B"}}},
		{"id": "q2", "type": "true_false", "text": "Zanzibar is true", "time_limit_seconds": seconds, "correct": []string{"true"}},
	}}
}

func subscribe(t *testing.T, c *websocket.Conn, channel string) wsFrame {
	t.Helper()
	if err := c.WriteJSON(map[string]any{"op": "subscribe", "channel": channel}); err != nil {
		t.Fatal(err)
	}
	return readFrames(t, c, 1, "subscribed", "error")[0]
}

// TestLiveQuiz runs a show on two nodes sharing Redis (players and host
// on either), and on the embedded default: only joined players
// subscribe, no key before the deadline, answers once and only while
// open, results with own score and rank, a rejoin keeping the score, the
// podium and the rewards.
func TestLiveQuiz(t *testing.T) {
	shapes := []string{"embedded", "two nodes"}
	if os.Getenv("MONGO_URI") != "" {
		shapes = append(shapes, "two nodes on mongo")
	}
	for _, d := range shapes {
		t.Run(d, func(t *testing.T) {
			if d == "embedded" {
				s := startServer(t, nil)
				runLiveShow(t, s, s)
				return
			}
			env := map[string]string{"REDIS_URL": redistest.URL(t)}
			if d == "two nodes on mongo" {
				env["MONGO_URI"], env["QL_MONGO_DB"] = os.Getenv("MONGO_URI"), mongoDB(t)
			}
			a := startServer(t, env)
			env["QL_DATA_DIR"] = a.dataDir
			b := startServer(t, env)
			quizEditReachesOtherNode(t, a, b)
			runLiveShow(t, a, b)
		})
	}
}

// quizEditReachesOtherNode: node B has a draft cached; an edit on node A
// shows on B at once (the bus), not after the cache's TTL.
func quizEditReachesOtherNode(t *testing.T, a, b *testServer) {
	mgr := a.token("boss", "acme", auth.Manager)
	var q struct{ ID, Name string }
	a.must(201, req{method: "POST", path: "/v1/quizzes", token: mgr, body: matrixQuiz}).json(t, &q)
	b.must(200, req{method: "GET", path: "/v1/quizzes/" + q.ID, token: mgr})
	a.must(200, req{method: "PATCH", path: "/v1/quizzes/" + q.ID, token: mgr, body: map[string]any{"name": "Renamed on A"}})
	time.Sleep(busSettle)
	b.must(200, req{method: "GET", path: "/v1/quizzes/" + q.ID, token: mgr}).json(t, &q)
	if q.Name != "Renamed on A" {
		t.Errorf("node B reads %q after the edit on node A", q.Name)
	}
}

func runLiveShow(t *testing.T, a, b *testServer) {
	mgr := a.token("boss", "acme", auth.Manager)
	id := a.quiz(mgr, liveQuiz(30))
	var open liveView
	a.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/live", token: mgr}).json(t, &open)
	if len(open.Code) != 6 || open.Phase != "lobby" {
		t.Fatalf("open = %+v", open)
	}
	ann, bob, eve := a.token("ann", "acme"), a.token("bob", "acme"), a.token("eve", "acme")
	wsAnn, wsBob, wsEve := a.dial(ann, ""), b.dial(bob, ""), a.dial(eve, "")
	if f := subscribe(t, wsEve, open.Channel); f.Type != "error" {
		t.Fatalf("eve subscribed without joining: %+v", f)
	}
	b.must(404, req{method: "GET", path: "/v1/live/" + open.SessionID, token: eve})
	a.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": strings.ToLower(open.Code)}})
	b.must(200, req{method: "POST", path: "/v1/live/join", token: bob, body: map[string]any{"code": open.Code}})
	for _, c := range []*websocket.Conn{wsAnn, wsBob} {
		if f := subscribe(t, c, open.Channel); f.Type != "subscribed" {
			t.Fatalf("joined player refused: %+v", f)
		}
	}
	answer := func(s *testServer, tok, qid, choice string, want int) response {
		t.Helper()
		return s.must(want, req{method: "POST", path: "/v1/live/" + open.SessionID + "/answers", token: tok,
			body: map[string]any{"question_id": qid, "choices": []string{choice}}})
	}
	answer(a, ann, "q1", "b", 409) // not open yet

	b.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr}) // host on node B
	for _, c := range []*websocket.Conn{wsAnn, wsBob} {
		q := readFrames(t, c, 1, "quiz.question")[0]
		noKey(t, "quiz.question", q.Data)
	}
	answer(a, eve, "q1", "b", 409) // never joined
	answer(a, ann, "q1", "b", 200)
	var dup struct{ Duplicate bool }
	answer(b, ann, "q1", "a", 200).json(t, &dup) // the other node: still the first answer
	if !dup.Duplicate {
		t.Error("second answer not marked duplicate")
	}
	time.Sleep(300 * time.Millisecond) // bob answers later: fewer points
	answer(b, bob, "q1", "b", 200)
	a.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr}) // results
	res := readFrames(t, wsBob, 1, "quiz.result")[0]
	var result struct {
		Reveal struct{ Correct []string }
		Top    []struct {
			UserID string `json:"user_id"`
			Score  int64
			Rank   int
		}
	}
	if err := json.Unmarshal(res.Data, &result); err != nil {
		t.Fatal(err)
	}
	if len(result.Reveal.Correct) != 1 || result.Reveal.Correct[0] != "b" || len(result.Top) != 2 ||
		result.Top[0].UserID != "ann" || result.Top[0].Score <= result.Top[1].Score || result.Top[1].Score < 500 {
		t.Fatalf("results %s", res.Data)
	}
	you := readFrames(t, wsBob, 1, "quiz.you")[0]
	if !strings.Contains(string(you.Data), `"rank":2`) {
		t.Errorf("bob's own result %s", you.Data)
	}
	answer(a, ann, "q1", "b", 409) // closed

	// Ann's phone drops out and rejoins on the other node: same score.
	var re liveView
	b.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": open.Code}}).json(t, &re)
	if re.Me == nil || re.Me.Score != result.Top[0].Score || re.Me.Streak != 1 || re.Rank != 1 {
		t.Fatalf("rejoin = %+v, want ann's score %d and streak 1", re, result.Top[0].Score)
	}
	a.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr}) // q2
	var cur liveView
	b.must(200, req{method: "GET", path: "/v1/live/" + open.SessionID, token: ann}).json(t, &cur)
	if cur.Phase != "question" || cur.Question == nil || cur.Question.ID != "q2" || cur.RemainingMS <= 0 || cur.RemainingMS > 30_000 {
		t.Fatalf("state after rejoin = %+v", cur)
	}
	a.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/pause", token: mgr})
	answer(a, bob, "q2", "true", 409) // paused
	b.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/resume", token: mgr})
	answer(b, ann, "q2", "true", 200)
	time.Sleep(100 * time.Millisecond)
	answer(a, bob, "q2", "true", 200)
	b.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/end", token: mgr})
	end := readFrames(t, wsAnn, 1, "quiz.ended")[0]
	if !strings.Contains(string(end.Data), `"podium"`) {
		t.Errorf("end frame %s", end.Data)
	}
	a.must(409, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr})
	waitFor(t, "the live rewards", func() bool { return a.wallet(ann).Balance == 105 && a.wallet(bob).Balance == 5 })
	b.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/end", token: mgr}) // again: pays nothing more
	time.Sleep(200 * time.Millisecond)
	if wa, wb := a.wallet(ann).Balance, a.wallet(bob).Balance; wa != 105 || wb != 5 {
		t.Errorf("after ending twice: ann %d bob %d, want 105 and 5", wa, wb)
	}
}

// TestLiveDeadline: results follow the deadline without the host.
func TestLiveDeadline(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.quiz(mgr, liveQuiz(1))
	var open liveView
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/live", token: mgr}).json(t, &open)
	ann := s.token("ann", "acme")
	s.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": open.Code}})
	ws := s.dial(ann, "")
	subscribe(t, ws, open.Channel)
	start := time.Now()
	s.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr})
	readFrames(t, ws, 1, "quiz.result")
	// The server stamps the opening in whole milliseconds: the deadline
	// may fall up to 1 ms before start + 1 s.
	if el := time.Since(start); el < time.Second-2*time.Millisecond || el > 2*time.Second {
		t.Errorf("results after %v, want right after the 1 s deadline", el)
	}
}
