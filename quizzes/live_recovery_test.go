package quizzes_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/quizzes/scoring"
	"github.com/questline/questline/storage/sqlite"
)

// TestLiveRescoresAfterACrash: a node closed a question (the session says
// results) and died before scoring it; the host's next command scores it,
// once.
func TestLiveRescoresAfterACrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := quizzes.NewMemoryEngine()
	svc := quizzes.NewService(quizzes.Config{Store: st, Engine: eng})
	defer svc.Close()
	q, err := svc.Create(ctx, "t", quizzes.Spec{Name: "x", Questions: []quizzes.Question{
		{ID: "a", Type: scoring.TrueFalse, Text: "?", Correct: []string{"true"}, TimeLimitSeconds: 30},
		{ID: "b", Type: scoring.TrueFalse, Text: "?", Correct: []string{"true"}, TimeLimitSeconds: 30},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, "t", q.ID); err != nil {
		t.Fatal(err)
	}
	sess, err := svc.OpenLive(ctx, "t", q.ID, "host")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JoinLive(ctx, "t", sess.Code, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Host(ctx, "t", sess.ID, quizzes.Next); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AnswerLive(ctx, "t", sess.ID, "ann", "a", scoring.Answer{Choices: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	// The crash: the session moved to results, nothing scored.
	cur, err := eng.GetSession(ctx, "t", sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Phase, cur.Version = quizzes.Showing, cur.Version+1
	if won, err := eng.SwapSession(ctx, cur); err != nil || !won {
		t.Fatalf("swap: %v %v", won, err)
	}
	ann := func() quizzes.Player {
		p, _, err := eng.Player(ctx, "t", sess.ID, "ann")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := svc.Host(ctx, "t", sess.ID, quizzes.Next); err != nil { // opens b, scoring a first
		t.Fatal(err)
	}
	first := ann()
	if first.Score < 500 || first.Streak != 1 || first.Answered != 1 {
		t.Fatalf("ann after the host moved on: %+v, want question a scored", first)
	}
	for range 2 { // close b (unanswered), then end: a is never scored again
		if _, err := svc.Host(ctx, "t", sess.ID, quizzes.Next); err != nil {
			t.Fatal(err)
		}
	}
	if p := ann(); p.Score != first.Score || p.Answered != 1 {
		t.Fatalf("ann at the end: %+v, want a's %d points once", p, first.Score)
	}
}
