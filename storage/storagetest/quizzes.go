package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/quizzes/scoring"
)

// QuizStore is what the quiz cases need of a backend.
type QuizStore interface {
	quizzes.Store
}

// RunQuizzes runs the quiz, attempt and answer cases against the stores
// open returns (a fresh, empty one per case).
func RunQuizzes(t *testing.T, open func(t *testing.T) QuizStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s QuizStore)
	}{
		{"QuizCRUD", testQuizCRUD},
		{"QuizVersionConflict", testQuizVersionConflict},
		{"QuizList", testQuizList},
		{"AttemptOncePerSeq", testAttemptOncePerSeq},
		{"AttemptConcurrentStart", testAttemptConcurrentStart},
		{"AttemptUpdate", testAttemptUpdate},
		{"AttemptLists", testAttemptLists},
		{"QuizErase", testQuizErase},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func quizCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sampleQuiz(tenant, id string, status quizzes.Status) quizzes.Quiz {
	v := 3.5
	return quizzes.Quiz{
		ID: id, Tenant: tenant, Status: status, Version: 1,
		CreatedAt: time.UnixMilli(1_700_000_000_000).UTC(), UpdatedAt: time.UnixMilli(1_700_000_000_000).UTC(),
		Spec: quizzes.Spec{Name: "Quiz " + id, Kind: quizzes.KindQuiz, Questions: []quizzes.Question{
			{ID: "q1", Type: scoring.Single, Text: "?", Points: 2, Correct: []string{"a"},
				Options: []quizzes.Option{{ID: "a", Text: "A"}, {ID: "b", Text: "B"}}},
			{ID: "q2", Type: scoring.Numeric, Text: "n?", Points: 1, Value: &v, Tolerance: 0.5},
		}},
	}
}

func sampleAttempt(tenant, id, quiz, user string, seq int) quizzes.Attempt {
	day := time.UnixMilli(1_700_000_000_000).UTC().Truncate(24 * time.Hour)
	return quizzes.Attempt{
		ID: id, Tenant: tenant, QuizID: quiz, User: user, Seq: seq, Status: quizzes.Open, Seed: 42,
		Questions: []string{"q1", "q2"}, Options: map[string][]string{"q1": {"b", "a"}}, Answers: []quizzes.Answer{},
		MaxScore: 3, StartedAt: time.UnixMilli(1_700_000_000_000).UTC(), Version: 1,
		PeriodFrom: &day, PeriodUsed: seq, // the folded count must round-trip
	}
}

func testQuizCRUD(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	q := sampleQuiz("t1", "z1", quizzes.Draft)
	must(t, s.CreateQuiz(ctx, q))
	if err := s.CreateQuiz(ctx, q); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("create twice: %v, want ErrDuplicate", err)
	}
	got, err := s.GetQuiz(ctx, "t1", "z1")
	must(t, err)
	if got.Tenant != "t1" || got.Name != q.Name || len(got.Questions) != 2 || *got.Questions[1].Value != 3.5 || !got.CreatedAt.Equal(q.CreatedAt) {
		t.Fatalf("got %+v, want %+v", got, q)
	}
	if _, err := s.GetQuiz(ctx, "t2", "z1"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("other tenant: %v, want ErrNotFound", err)
	}
	got.Status, got.Name, got.Version = quizzes.Published, "renamed", 2
	must(t, s.UpdateQuiz(ctx, got))
	again, err := s.GetQuiz(ctx, "t1", "z1")
	must(t, err)
	if again.Status != quizzes.Published || again.Name != "renamed" || again.Version != 2 {
		t.Fatalf("after update %+v", again)
	}
	missing := sampleQuiz("t1", "nope", quizzes.Draft)
	missing.Version = 2
	if err := s.UpdateQuiz(ctx, missing); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
}

func testQuizVersionConflict(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	must(t, s.CreateQuiz(ctx, sampleQuiz("t1", "z1", quizzes.Draft)))
	var wg sync.WaitGroup
	errs2 := make([]error, 4)
	for i := range errs2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := sampleQuiz("t1", "z1", quizzes.Draft)
			q.Version, q.Name = 2, fmt.Sprint("edit ", i)
			errs2[i] = s.UpdateQuiz(ctx, q)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs2 {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errs.ErrDuplicate):
			t.Fatalf("racing update: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing updates won, want 1", won)
	}
}

func testQuizList(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	for i, st := range []quizzes.Status{quizzes.Draft, quizzes.Published, quizzes.Published, quizzes.Archived} {
		must(t, s.CreateQuiz(ctx, sampleQuiz("t1", fmt.Sprintf("z%d", i), st)))
	}
	must(t, s.CreateQuiz(ctx, sampleQuiz("t2", "other", quizzes.Published)))
	cases := []struct {
		status quizzes.Status
		after  string
		limit  int
		want   []string
	}{
		{"", "", 10, []string{"z0", "z1", "z2", "z3"}},
		{"", "z1", 2, []string{"z2", "z3"}},
		{"", "", 1, []string{"z0"}},
		{quizzes.Published, "", 10, []string{"z1", "z2"}},
		{quizzes.Published, "z1", 10, []string{"z2"}},
		{quizzes.Archived, "", 10, []string{"z3"}},
	}
	for _, c := range cases {
		got, err := s.ListQuizzes(ctx, "t1", c.status, c.after, c.limit)
		must(t, err)
		var ids []string
		for _, q := range got {
			ids = append(ids, q.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("list %q after %q limit %d = %v, want %v", c.status, c.after, c.limit, ids, c.want)
		}
	}
}

func testAttemptOncePerSeq(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	a := sampleAttempt("t1", "a1", "z1", "u1", 1)
	got, inserted, err := s.InsertAttempt(ctx, a)
	must(t, err)
	if !inserted || got.ID != "a1" {
		t.Fatalf("first insert: %v %+v", inserted, got)
	}
	b := sampleAttempt("t1", "a2", "z1", "u1", 1)
	got, inserted, err = s.InsertAttempt(ctx, b)
	must(t, err)
	if inserted || got.ID != "a1" || got.Tenant != "t1" || got.Options["q1"][0] != "b" {
		t.Fatalf("same seq: inserted %v, got %+v, want a1", inserted, got)
	}
	for _, other := range []quizzes.Attempt{sampleAttempt("t1", "a3", "z1", "u1", 2), sampleAttempt("t1", "a4", "z1", "u2", 1),
		sampleAttempt("t1", "a5", "z2", "u1", 1), sampleAttempt("t2", "a6", "z1", "u1", 1)} {
		if _, inserted, err := s.InsertAttempt(ctx, other); err != nil || !inserted {
			t.Fatalf("insert %s: %v %v", other.ID, inserted, err)
		}
	}
	if _, _, err := s.InsertAttempt(ctx, sampleAttempt("t1", "a1", "z9", "u9", 1)); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("taken id: %v, want ErrDuplicate", err)
	}
}

func testAttemptConcurrentStart(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := s.InsertAttempt(ctx, sampleAttempt("t1", fmt.Sprint("a", i), "z1", "u1", 1))
			if err != nil {
				t.Error(err)
			}
			ids[i] = got.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing starts got attempts %v, want one", ids)
		}
	}
}

func testAttemptUpdate(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	a := sampleAttempt("t1", "a1", "z1", "u1", 1)
	_, _, err := s.InsertAttempt(ctx, a)
	must(t, err)
	one := 1.0
	a.Answers = append(a.Answers, quizzes.Answer{QuestionID: "q1", Answer: scoring.Answer{Choices: []string{"a"}, Number: &one},
		At: a.StartedAt.Add(time.Second), Took: time.Second, Result: scoring.Result{Points: 2, Correct: true, Credit: 1}})
	a.Version = 2
	must(t, s.UpdateAttempt(ctx, a))
	stale := a
	stale.Answers = nil
	if err := s.UpdateAttempt(ctx, stale); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("stale update: %v, want ErrDuplicate", err)
	}
	got, err := s.GetAttempt(ctx, "t1", "a1")
	must(t, err)
	if len(got.Answers) != 1 || got.Answers[0].Result.Points != 2 || got.Answers[0].Took != time.Second || got.Version != 2 {
		t.Fatalf("after update %+v", got)
	}
	if _, err := s.GetAttempt(ctx, "t2", "a1"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("other tenant: %v, want ErrNotFound", err)
	}
	missing := sampleAttempt("t1", "zz", "z1", "u1", 9)
	missing.Version = 2
	if err := s.UpdateAttempt(ctx, missing); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
}

func testAttemptLists(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	for _, a := range []quizzes.Attempt{
		sampleAttempt("t1", "a3", "z1", "u1", 2), sampleAttempt("t1", "a1", "z2", "u1", 1),
		sampleAttempt("t1", "a2", "z1", "u1", 1), sampleAttempt("t1", "a4", "z1", "u2", 1),
		sampleAttempt("t2", "a5", "z1", "u1", 1),
	} {
		_, _, err := s.InsertAttempt(ctx, a)
		must(t, err)
	}
	ids := func(as []quizzes.Attempt, err error) string {
		must(t, err)
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		name, got, want string
	}{
		{"user, one quiz, by seq", ids(s.UserAttempts(ctx, "t1", "z1", "u1")), "[a2 a3]"},
		{"user, every quiz", ids(s.UserAttempts(ctx, "t1", "", "u1")), "[a1 a2 a3]"},
		{"quiz", ids(s.QuizAttempts(ctx, "t1", "z1", "", 10)), "[a2 a3 a4]"},
		{"last of user and quiz", ids(one(s.LastAttempt(ctx, "t1", "z1", "u1"))), "[a3]"},
		{"last, other user", ids(one(s.LastAttempt(ctx, "t1", "z1", "u2"))), "[a4]"},
		{"last, other tenant", ids(one(s.LastAttempt(ctx, "t2", "z1", "u1"))), "[a5]"},
		{"quiz, paged", ids(s.QuizAttempts(ctx, "t1", "z1", "a2", 1)), "[a3]"},
		{"other tenant", ids(s.QuizAttempts(ctx, "t2", "z1", "", 10)), "[a5]"},
		{"starts of a quiz", starts(t, s, "t1", "z1"), "{3 2}"},
		{"starts, one attempt", starts(t, s, "t1", "z2"), "{1 1}"},
		{"starts, other tenant", starts(t, s, "t2", "z1"), "{1 1}"},
		{"starts, no attempts", starts(t, s, "t1", "z9"), "{0 0}"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}

// starts is QuizStarts as {attempts users}.
func starts(t *testing.T, s QuizStore, tenant, quiz string) string {
	st, err := s.QuizStarts(quizCtx(t), tenant, quiz)
	must(t, err)
	return fmt.Sprint(st)
}

func one(a quizzes.Attempt, err error) ([]quizzes.Attempt, error) { return []quizzes.Attempt{a}, err }

func testQuizErase(t *testing.T, s QuizStore) {
	ctx := quizCtx(t)
	for _, a := range []quizzes.Attempt{sampleAttempt("t1", "a1", "z1", "u1", 1), sampleAttempt("t1", "a2", "z1", "u2", 1),
		sampleAttempt("t2", "a3", "z1", "u1", 1)} {
		_, _, err := s.InsertAttempt(ctx, a)
		must(t, err)
	}
	for range 2 { // the second erasure is a retry: harmless
		must(t, s.EraseQuizUser(ctx, "t1", "u1"))
	}
	for _, c := range []struct {
		tenant, user string
		want         int
	}{{"t1", "u1", 0}, {"t1", "u2", 1}, {"t2", "u1", 1}} {
		as, err := s.UserAttempts(ctx, c.tenant, "", c.user)
		must(t, err)
		if len(as) != c.want {
			t.Errorf("%s/%s: %d attempts after erasure, want %d", c.tenant, c.user, len(as), c.want)
		}
	}
	if _, err := s.LastAttempt(ctx, "t1", "z1", "u1"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("last attempt after erasure: %v, want ErrNotFound", err)
	}
	if got := starts(t, s, "t1", "z1"); got != "{1 1}" {
		t.Fatalf("starts after erasure: %s, want {1 1}", got)
	}
	// The user's seq 1 is free again: a user id reused later starts afresh.
	if _, inserted, err := s.InsertAttempt(ctx, sampleAttempt("t1", "a9", "z1", "u1", 1)); err != nil || !inserted {
		t.Fatalf("after erasure: %v %v", inserted, err)
	}
}
