package quizzes_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/ratelimit"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/quizzes/scoring"
	"github.com/questline/questline/storage/sqlite"
)

// countingStore counts the attempt reads a start makes, and fails any
// read of a user's whole history.
type countingStore struct {
	*sqlite.Store
	t    *testing.T
	last int
}

func (c *countingStore) LastAttempt(ctx context.Context, tenant, quizID, user string) (quizzes.Attempt, error) {
	c.last++
	return c.Store.LastAttempt(ctx, tenant, quizID, user)
}

func (c *countingStore) UserAttempts(context.Context, string, string, string) ([]quizzes.Attempt, error) {
	c.t.Error("a start or a listing read the user's whole history")
	return nil, nil
}

// openDB opens a SQLite store for the test, closed at its end.
func openDB(t *testing.T) (context.Context, *sqlite.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return ctx, db
}

// TestAttemptCountsAreFolded: starting reads one attempt however many the
// user made, and the per-period count still limits and resets.
func TestAttemptCountsAreFolded(t *testing.T) {
	ctx, db := openDB(t)
	st := &countingStore{Store: db, t: t}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc := quizzes.NewService(quizzes.Config{Store: st, Now: func() time.Time { return now }})
	defer svc.Close()
	newQuiz := func(max int, period string) quizzes.Quiz {
		q, err := svc.Create(ctx, "t", quizzes.Spec{Name: "x", MaxAttempts: max, AttemptPeriod: period,
			Questions: []quizzes.Question{{ID: "a", Type: scoring.TrueFalse, Text: "?", Correct: []string{"true"}}}})
		if err == nil {
			_, err = svc.Publish(ctx, "t", q.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	play := func(q quizzes.Quiz) error {
		before := st.last
		_, a, _, err := svc.Start(ctx, "t", q.ID, "ann", true)
		if st.last-before != 1 {
			t.Fatalf("a start read %d attempts, want 1", st.last-before)
		}
		if err == nil {
			_, _, err = svc.Finish(ctx, "t", a.ID, "ann")
		}
		return err
	}
	used := func(q quizzes.Quiz) int {
		pq, err := svc.ForPlayer(ctx, q, "ann")
		if err != nil {
			t.Fatal(err)
		}
		return pq.AttemptsUsed
	}

	unlimited := newQuiz(0, "")
	for range 30 {
		if err := play(unlimited); err != nil {
			t.Fatal(err)
		}
	}
	if n := used(unlimited); n != 30 {
		t.Fatalf("unlimited: attempts_used %d, want 30", n)
	}

	daily := newQuiz(2, "day")
	for i, want := range []bool{true, true, false} {
		if err := play(daily); (err == nil) != want {
			t.Fatalf("start %d on day 1: %v, want ok=%v", i+1, err, want)
		}
	}
	if n := used(daily); n != 2 {
		t.Fatalf("day 1: attempts_used %d, want 2", n)
	}
	now = now.Add(24 * time.Hour) // a new UTC day: the count starts again
	if n := used(daily); n != 0 {
		t.Fatalf("day 2 before playing: attempts_used %d, want 0", n)
	}
	if err := play(daily); err != nil {
		t.Fatal(err)
	}
	if n := used(daily); n != 1 {
		t.Fatalf("day 2: attempts_used %d, want 1", n)
	}
	err := play(daily)
	if err == nil {
		err = play(daily)
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != "attempts-exhausted" {
		t.Fatalf("third start on day 2: %v, want attempts-exhausted", err)
	}
}

// TestAnswerRateLimit: past a player's answer budget, self-paced and live
// answers alike are refused with a 429 carrying Retry-After; other
// players are not affected.
func TestAnswerRateLimit(t *testing.T) {
	ctx, db := openDB(t)
	svc := quizzes.NewService(quizzes.Config{Store: db, Engine: quizzes.NewMemoryEngine(),
		Limiter: ratelimit.NewMemory(), AnswerLimit: ratelimit.PerMinute(1, 2)})
	defer svc.Close()
	q, err := svc.Create(ctx, "t", quizzes.Spec{Name: "x", Questions: []quizzes.Question{
		{ID: "a", Type: scoring.TrueFalse, Text: "?", Correct: []string{"true"}, TimeLimitSeconds: 30},
		{ID: "b", Type: scoring.TrueFalse, Text: "?", Correct: []string{"true"}, TimeLimitSeconds: 30}}})
	if err == nil {
		_, err = svc.Publish(ctx, "t", q.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	yes := scoring.Answer{Choices: []string{"true"}}
	sess, err := svc.OpenLive(ctx, "t", q.ID, "host")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ann", "bob"} {
		if _, err := svc.JoinLive(ctx, "t", sess.Code, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Host(ctx, "t", sess.ID, quizzes.Next); err != nil {
		t.Fatal(err)
	}
	_, a, _, err := svc.Start(ctx, "t", q.ID, "ann", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Answer(ctx, "t", a.ID, "ann", "a", yes); err != nil { // 1 of 2
		t.Fatal(err)
	}
	if _, err := svc.AnswerLive(ctx, "t", sess.ID, "ann", "a", yes); err != nil { // 2 of 2
		t.Fatal(err)
	}
	_, _, _, err = svc.Answer(ctx, "t", a.ID, "ann", "b", yes)
	var he huma.HeadersError
	e, known := errs.As(err)
	if !known || e.Kind != errs.RateLimited || !errors.As(err, &he) || he.GetHeaders().Get("Retry-After") == "" {
		t.Fatalf("third answer: %v, want 429 with Retry-After", err)
	}
	if _, err := svc.AnswerLive(ctx, "t", sess.ID, "ann", "a", yes); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("live answer past the budget: %v, want 429", err)
	}
	if _, err := svc.AnswerLive(ctx, "t", sess.ID, "bob", "a", yes); err != nil {
		t.Fatalf("bob's answer: %v, want his own budget", err)
	}
}
