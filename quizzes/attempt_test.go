package quizzes_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
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

// TestAttemptCountsAreFolded: starting reads one attempt however many the
// user made, and the per-period count still limits and resets.
func TestAttemptCountsAreFolded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	err = play(daily)
	if err == nil {
		err = play(daily)
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != "attempts-exhausted" {
		t.Fatalf("third start on day 2: %v, want attempts-exhausted", err)
	}
}
