package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
)

// everyType is a quiz with one question of every scored type.
func everyType() map[string]any {
	opts := func(ids ...string) []map[string]any {
		var out []map[string]any
		for _, id := range ids {
			out = append(out, map[string]any{"id": id, "text": "Option " + strings.ToUpper(id)})
		}
		return out
	}
	return map[string]any{
		"name": "Every type", "pass_mark": 50, "reward": map[string]any{"points": 50}, "reward_on": "pass",
		"shuffle_options": true,
		"questions": []map[string]any{
			{"id": "single", "type": "single", "text": "Pick b", "options": opts("a", "b", "c"), "correct": []string{"b"}, "points": 10},
			{"id": "multi", "type": "multiple", "text": "Pick a and c", "options": opts("a", "b", "c"), "correct": []string{"a", "c"}, "partial": true, "points": 10},
			{"id": "tf", "type": "true_false", "text": "Sky is green", "correct": []string{"false"}, "points": 10},
			{"id": "text", "type": "text", "text": "Capital of France", "accepted": []string{"Zanzibar-Paris"}, "points": 10},
			{"id": "num", "type": "numeric", "text": "Six times seven", "value": 42, "tolerance": 0.5, "points": 10},
			{"id": "order", "type": "ordering", "text": "Order them", "options": opts("x", "y", "z"), "correct": []string{"x", "y", "z"}, "points": 10, "negative": 3},
		},
	}
}

// keyFields are what an answer key or a verdict would be called.
var keyFields = []string{"correct", "accepted", "value", "tolerance", "credit", "right", "result", "review"}

// noKey fails when the JSON of what a player received names a key field
// or holds a secret value of the key.
func noKey(t *testing.T, what string, raw []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for _, f := range keyFields {
					if k == f {
						t.Errorf("%s carries %q before the attempt ended: %s", what, k, raw)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	for _, secret := range []string{"Zanzibar"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("%s carries the key %q: %s", what, secret, raw)
		}
	}
}

type attemptView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Resumed   bool   `json:"resumed"`
	Current   string `json:"current"`
	Questions []struct {
		ID      string `json:"id"`
		Options []struct {
			ID string `json:"id"`
		} `json:"options"`
	} `json:"questions"`
	Score    *int64 `json:"score"`
	MaxScore *int64 `json:"max_score"`
	Passed   *bool  `json:"passed"`
}

type answered struct {
	Outcome struct {
		Late      bool `json:"late"`
		Duplicate bool `json:"duplicate"`
	} `json:"outcome"`
	Attempt attemptView `json:"attempt"`
}

func (s *testServer) quiz(mgr string, def map[string]any) string {
	s.t.Helper()
	var q struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/quizzes", token: mgr, body: def}).json(s.t, &q)
	s.must(200, req{method: "POST", path: "/v1/quizzes/" + q.ID + "/publish", token: mgr})
	return q.ID
}

// TestQuizSelfPaced plays a quiz of every question type through the API:
// no key in any response or push before the end, resume, one open
// attempt, first answer kept, a restart in the middle, quiz.completed
// feeding an event board, and the reward paid once.
func TestQuizSelfPaced(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			board := s.board(mgr, map[string]any{"name": "Quiz scores", "source": "event", "event_type": "quiz.completed",
				"prop": "score", "aggregation": "best"})
			id := s.quiz(mgr, everyType())
			ann := s.token("ann", "acme")
			ws := s.dial(ann, "")

			var a attemptView
			r := s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann})
			noKey(t, "start", r.Body)
			r.json(t, &a)
			if len(a.Questions) != 6 || a.Current != a.Questions[0].ID {
				t.Fatalf("attempt %+v", a)
			}
			var again attemptView
			s.must(200, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann}).json(t, &again)
			if again.ID != a.ID || !again.Resumed || again.Current != a.Current {
				t.Fatalf("resume = %+v, want attempt %s", again, a.ID)
			}
			if pt := s.must(409, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann,
				body: map[string]any{"fresh": true}}).problemType(t); !strings.Contains(pt, "attempt-in-progress") {
				t.Errorf("fresh start over an open attempt: %s", pt)
			}
			other := s.token("bob", "acme")
			s.must(404, req{method: "GET", path: "/v1/attempts/" + a.ID, token: other})

			right := map[string]map[string]any{
				"single": {"choices": []string{"b"}}, "multi": {"choices": []string{"a"}}, // half credit
				"tf": {"choices": []string{"false"}}, "text": {"text": "  zanzibar-PARIS "},
				"num": {"number": 42.4}, "order": {"choices": []string{"y", "x", "z"}}, // wrong: −3
			}
			answer := func(qid string, body map[string]any, want int) response {
				t.Helper()
				b := map[string]any{"question_id": qid}
				for k, v := range body {
					b[k] = v
				}
				resp := s.must(want, req{method: "POST", path: "/v1/attempts/" + a.ID + "/answers", token: ann, body: b})
				if want == 200 {
					var out answered
					resp.json(t, &out)
					if out.Attempt.Status == "open" {
						noKey(t, "answer "+qid, resp.Body)
					}
				}
				return resp
			}
			order := []string{}
			for _, q := range a.Questions {
				order = append(order, q.ID)
			}
			if len(order) > 1 {
				answer(order[1], right[order[1]], 409) // not open yet
			}
			answer(order[0], map[string]any{"choices": []string{"nope"}}, 422)
			answer(order[0], right[order[0]], 200)
			var dup answered
			answer(order[0], map[string]any{"text": "x", "choices": []string{"c"}, "number": 1}, 200).json(t, &dup)
			if !dup.Outcome.Duplicate {
				t.Errorf("second answer to %s: %+v, want duplicate", order[0], dup.Outcome)
			}

			for _, f := range drain(ws) {
				noKey(t, "push before the restart "+f.Type, f.Data)
			}
			s.shutdown() // the attempt survives a restart
			s.start()
			ws = s.dial(ann, "")
			var last answered
			for _, qid := range order[1:] {
				answer(qid, right[qid], 200).json(t, &last)
			}
			if last.Attempt.Status != "finished" || last.Attempt.Score == nil {
				t.Fatalf("after the last answer: %+v", last.Attempt)
			}
			// 10 + 5 + 10 + 10 + 10 − 3 = 42 of 60: passed at 50%.
			if *last.Attempt.Score != 42 || *last.Attempt.MaxScore != 60 || !*last.Attempt.Passed {
				t.Errorf("score %d/%d passed %v, want 42/60 passed", *last.Attempt.Score, *last.Attempt.MaxScore, *last.Attempt.Passed)
			}
			var fin attemptView
			for range 2 {
				r := s.must(200, req{method: "POST", path: "/v1/attempts/" + a.ID + "/finish", token: ann})
				noKey(t, "finish without review", r.Body) // review is off: the key stays hidden after the end too
				r.json(t, &fin)
			}
			if *fin.Score != 42 {
				t.Errorf("finish again: %d", *fin.Score)
			}
			if w := s.wallet(ann); w.Balance != 50 {
				t.Errorf("balance %d, want the reward of 50 once", w.Balance)
			}
			waitFor(t, "the quiz score on the board", func() bool {
				p := s.top(ann, board)
				return len(p.Entries) == 1 && p.Entries[0].UserID == "ann" && p.Entries[0].Score == 42
			})
			frames := drain(ws)
			for _, f := range frames {
				noKey(t, "push "+f.Type, f.Data)
			}
			if !hasFrame(frames, "quiz.completed") {
				t.Errorf("no quiz.completed push among %d frames", len(frames))
			}
		})
	}
}

// drain reads the frames that arrive within a short while.
func drain(c *websocket.Conn) []wsFrame {
	var out []wsFrame
	for {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		var f wsFrame
		if err := c.ReadJSON(&f); err != nil {
			return out
		}
		out = append(out, f)
	}
}

func hasFrame(fs []wsFrame, typ string) bool {
	for _, f := range fs {
		if f.Type == typ {
			return true
		}
	}
	return false
}

// TestQuizDeadlinesAndLimits: a late answer scores zero and says so, the
// attempt limit answers 409, and review shows the key after the end.
func TestQuizDeadlinesAndLimits(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.quiz(mgr, map[string]any{"name": "Fast", "max_attempts": 1, "attempt_period": "day", "review": true,
		"questions": []map[string]any{{"id": "q", "type": "true_false", "text": "?", "correct": []string{"true"},
			"time_limit_seconds": 1, "points": 5}}})
	ann := s.token("ann", "acme")
	var a attemptView
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann}).json(t, &a)
	time.Sleep(1100 * time.Millisecond)
	var out answered
	r := s.must(200, req{method: "POST", path: "/v1/attempts/" + a.ID + "/answers", token: ann,
		body: map[string]any{"question_id": "q", "choices": []string{"true"}}})
	r.json(t, &out)
	if !out.Outcome.Late || *out.Attempt.Score != 0 {
		t.Errorf("late answer: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"review"`) {
		t.Errorf("review allowed but absent after the end: %s", r.Body)
	}
	if pt := s.must(409, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann}).problemType(t); !strings.Contains(pt, "attempts-exhausted") {
		t.Errorf("second attempt of 1 per day: %s", pt)
	}
	var mine struct {
		Quizzes []struct {
			AttemptsUsed int        `json:"attempts_used"`
			ResetsAt     *time.Time `json:"resets_at"`
		} `json:"quizzes"`
	}
	s.must(200, req{method: "GET", path: "/v1/me/quizzes", token: ann}).json(t, &mine)
	if len(mine.Quizzes) != 1 || mine.Quizzes[0].AttemptsUsed != 1 || mine.Quizzes[0].ResetsAt == nil ||
		!mine.Quizzes[0].ResetsAt.Equal(time.Now().UTC().Truncate(24*time.Hour).Add(24*time.Hour)) {
		t.Errorf("my quizzes = %+v, want 1 used, resets at the next UTC midnight", mine.Quizzes)
	}
}

// TestSurvey: answers of several players summed up per question, NPS and
// the CSV export, with a formula-looking answer defused.
func TestSurvey(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	id := s.quiz(mgr, map[string]any{"name": "Feedback", "kind": "survey", "reward": map[string]any{"points": 3},
		"questions": []map[string]any{
			{"id": "nps", "type": "nps", "text": "Recommend us?"},
			{"id": "stars", "type": "rating", "text": "Rate the app"},
			{"id": "why", "type": "open_text", "text": "Why?"},
		}})
	for i, u := range []string{"u1", "u2", "u3"} {
		tok := s.token(u, "acme")
		var a attemptView
		s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: tok}).json(t, &a)
		for _, b := range []map[string]any{
			{"question_id": "nps", "number": []int{10, 9, 3}[i]},
			{"question_id": "stars", "number": []int{5, 4, 3}[i]},
			{"question_id": "why", "text": []string{"great", "=HYPERLINK(1)", "meh"}[i]},
		} {
			s.must(200, req{method: "POST", path: "/v1/attempts/" + a.ID + "/answers", token: tok, body: b})
		}
		if w := s.wallet(tok); w.Balance != 3 {
			t.Errorf("%s balance %d, want 3", u, w.Balance)
		}
	}
	var res struct {
		Finished  int64 `json:"finished"`
		Questions []struct {
			QuestionID string   `json:"question_id"`
			Average    *float64 `json:"average"`
			NPS        *float64 `json:"nps"`
		} `json:"questions"`
	}
	s.must(200, req{method: "GET", path: "/v1/quizzes/" + id + "/results", token: mgr}).json(t, &res)
	if res.Finished != 3 || *res.Questions[0].NPS != 33.3 || *res.Questions[1].Average != 4 {
		t.Errorf("results %+v", res)
	}
	csv := s.must(200, req{method: "GET", path: "/v1/quizzes/" + id + "/responses", token: mgr})
	if !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") || strings.Count(string(csv.Body), "\n") != 4 ||
		!strings.Contains(string(csv.Body), "'=HYPERLINK(1)") {
		t.Errorf("csv %s %s", csv.Header.Get("Content-Type"), csv.Body)
	}
}

// TestQuizErasure: a user's attempts are in their export and gone after
// their erasure; the same id starts afresh.
func TestQuizErasure(t *testing.T) {
	s := startServer(t, nil)
	mgr, admin := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin)
	id := s.quiz(mgr, map[string]any{"name": "One", "max_attempts": 1, "questions": []map[string]any{
		{"id": "q", "type": "text", "text": "Your secret?", "accepted": []string{"x"}}}})
	ann := s.token("ann", "acme")
	var a attemptView
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann}).json(t, &a)
	s.must(200, req{method: "POST", path: "/v1/attempts/" + a.ID + "/answers", token: ann,
		body: map[string]any{"question_id": "q", "text": "my private words"}})
	// ann also plays a live show: her standing and answer are hers too.
	var open liveView
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + s.quiz(mgr, liveQuiz(30)) + "/live", token: mgr}).json(t, &open)
	s.must(200, req{method: "POST", path: "/v1/live/join", token: ann, body: map[string]any{"code": open.Code}})
	s.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/next", token: mgr})
	s.must(200, req{method: "POST", path: "/v1/live/" + open.SessionID + "/answers", token: ann,
		body: map[string]any{"question_id": "q1", "choices": []string{"b"}}})
	var live int
	attempts := func() int {
		var e struct {
			Sections struct {
				Quizzes struct {
					Attempts []json.RawMessage `json:"attempts"`
					Live     []struct {
						Answers map[string]json.RawMessage `json:"answers"`
					} `json:"live"`
				} `json:"quizzes"`
			} `json:"sections"`
		}
		r := s.must(200, req{method: "GET", path: "/v1/users/ann/export", token: mgr})
		r.json(t, &e)
		if n := len(e.Sections.Quizzes.Attempts); n == 0 && strings.Contains(string(r.Body), "my private words") {
			t.Errorf("export after erasure still holds the answer: %s", r.Body)
		}
		live = len(e.Sections.Quizzes.Live)
		if live == 1 && len(e.Sections.Quizzes.Live[0].Answers) != 1 {
			t.Errorf("live show in the export: %s, want ann's one answer", r.Body)
		}
		return len(e.Sections.Quizzes.Attempts)
	}
	if n := attempts(); n != 1 || live != 1 {
		t.Fatalf("export holds %d attempts and %d live shows, want 1 and 1", n, live)
	}
	for range 2 {
		s.must(200, req{method: "POST", path: "/v1/users/ann/erase", token: admin})
		if n := attempts(); n != 0 || live != 0 {
			t.Fatalf("export after erasure holds %d attempts and %d live shows", n, live)
		}
	}
	s.must(404, req{method: "GET", path: "/v1/attempts/" + a.ID, token: ann})
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + id + "/attempts", token: ann}) // a new user: attempts left
}
