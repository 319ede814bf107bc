package quizzes

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/quizzes/scoring"
)

func TestScorePlayer(t *testing.T) {
	open := time.UnixMilli(1_700_000_000_000).UTC()
	sess := Session{OpenedAt: open, Deadline: open.Add(20 * time.Second)}
	single := Question{ID: "q", Type: scoring.Single, Points: 1, Correct: []string{"b"}}
	double := single
	double.Points = 2
	multi := Question{ID: "q", Type: scoring.Multiple, Points: 1, Partial: true, Correct: []string{"a", "b"}}
	q := Quiz{Spec: Spec{Live: &Live{StreakStep: 100, StreakCap: 2}}}
	at := func(d time.Duration, choices ...string) map[string]LiveAnswer {
		return map[string]LiveAnswer{"u": {User: "u", At: open.Add(d), Answer: scoring.Answer{Choices: choices}}}
	}
	cases := []struct {
		name    string
		q       Question
		before  Player
		answers map[string]LiveAnswer
		score   int64
		streak  int
		took    time.Duration
	}{
		{"instant", single, Player{}, at(0, "b"), 1000, 1, 0},
		{"half time", single, Player{}, at(10*time.Second, "b"), 750, 1, 10 * time.Second},
		{"at the buzzer", single, Player{}, at(20*time.Second, "b"), 500, 1, 20 * time.Second},
		{"stamped after the deadline counts as T", single, Player{}, at(25*time.Second, "b"), 500, 1, 20 * time.Second},
		{"double points", double, Player{}, at(0, "b"), 2000, 1, 0},
		{"second in a row", single, Player{Score: 1000, Streak: 1}, at(0, "b"), 2100, 2, 0},
		{"streak bonus capped", single, Player{Streak: 7}, at(0, "b"), 1200, 8, 0},
		{"wrong resets the streak", single, Player{Score: 10, Streak: 3}, at(time.Second, "a"), 10, 0, time.Second},
		{"missed resets the streak", single, Player{Score: 10, Streak: 3}, nil, 10, 0, 0},
		{"partial credit, no streak", multi, Player{Streak: 2}, at(0, "a"), 500, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.before.User = "u"
			got := scorePlayer(q, c.q, sess, 3, c.before, c.answers)
			if got.Score != c.score || got.Streak != c.streak || got.Time != c.took || got.Last == nil || got.Last.Index != 3 {
				t.Errorf("got %+v (last %+v), want score %d streak %d time %v", got, got.Last, c.score, c.streak, c.took)
			}
			if c.answers == nil && !got.Last.Missed {
				t.Error("a missing answer is not marked missed")
			}
		})
	}
}

// TestNoKeyInPlayerViews renders every question type the ways a player
// sees it before the end (an open attempt, a live question frame, a live
// state) and finds no key in any.
func TestNoKeyInPlayerViews(t *testing.T) {
	v := 987654.25
	opts := []Option{{ID: "a", Text: "A"}, {ID: "b", Text: "B"}}
	qs := []Question{
		{ID: "single", Type: scoring.Single, Options: opts, Correct: []string{"b"}},
		{ID: "multi", Type: scoring.Multiple, Options: opts, Correct: []string{"a", "b"}},
		{ID: "tf", Type: scoring.TrueFalse, Correct: []string{"true"}},
		{ID: "text", Type: scoring.Text, Accepted: []string{"secret-answer"}},
		{ID: "num", Type: scoring.Numeric, Value: &v, Tolerance: 0.25},
		{ID: "order", Type: scoring.Ordering, Options: opts, Correct: []string{"b", "a"}},
	}
	q := Quiz{ID: "z", Spec: Spec{Name: "all", Questions: qs, Live: &Live{}}}
	if err := q.Spec.normalize(); err != nil {
		t.Fatal(err)
	}
	a := newAttempt(q, "u", 1, 9, time.Now())
	now := time.Now()
	sess := Session{ID: "s", Questions: a.Questions, Options: a.Options, Phase: Asking, OpenedAt: now, Deadline: now.Add(time.Second)}
	var svc Service
	svc.Now = time.Now
	for i := range qs {
		sess.Index = i
		for what, x := range map[string]any{"attempt": View(q, a), "question frame": svc.questionFrame(q, sess)} {
			raw, err := json.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{`"correct"`, `"accepted"`, `"value"`, `"tolerance"`, `"reveal"`, "secret-answer", "987654"} {
				if strings.Contains(string(raw), k) {
					t.Errorf("%s of question %d carries %s: %s", what, i, k, raw)
				}
			}
		}
		a.Answers = append(a.Answers, Answer{QuestionID: a.Questions[i], At: now})
	}
}
