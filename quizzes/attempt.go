package quizzes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes/scoring"
)

// Start begins an attempt for user, or resumes their open one (resumed
// true). With fresh, an open attempt is refused (409 attempt-in-progress)
// instead: a client that means to start over learns it cannot.
func (s *Service) Start(ctx context.Context, tenant, quizID, user string, fresh bool) (Quiz, Attempt, bool, error) {
	q, err := s.playable(ctx, tenant, quizID, user)
	if err != nil {
		return Quiz{}, Attempt{}, false, err
	}
	last, found, err := s.lastAttempt(ctx, q, user)
	if err != nil {
		return Quiz{}, Attempt{}, false, err
	}
	if found && last.Status == Open {
		if fresh {
			return Quiz{}, Attempt{}, false, errs.New(errs.Conflict, "attempt-in-progress",
				"attempt %s of this quiz is still open: answer or finish it first", last.ID)
		}
		return q, last, true, nil
	}
	now := s.Now().UTC()
	used, from, resets := usedInPeriod(q.Spec, last, found, now)
	if q.MaxAttempts > 0 && used >= q.MaxAttempts {
		e := errs.New(errs.Conflict, "attempts-exhausted", "all %d attempts are used", q.MaxAttempts)
		if resets != nil {
			e = errs.New(errs.Conflict, "attempts-exhausted", "all %d attempts of this %s are used; more from %s",
				q.MaxAttempts, q.AttemptPeriod, resets.Format(time.RFC3339))
		}
		return Quiz{}, Attempt{}, false, e
	}
	a := newAttempt(q, user, last.Seq+1, rand.Uint64(), s.now())
	a.PeriodFrom, a.PeriodUsed = from, used+1
	stored, inserted, err := s.Store.InsertAttempt(ctx, a)
	if err != nil {
		return Quiz{}, Attempt{}, false, fmt.Errorf("quizzes: start %s: %w", quizID, err)
	}
	// A racing start took this seq: its attempt is the open one.
	return q, stored, !inserted, nil
}

// playable returns q if user may take it now.
func (s *Service) playable(ctx context.Context, tenant, quizID, user string) (Quiz, error) {
	q, err := s.Get(ctx, tenant, quizID)
	if err != nil {
		return Quiz{}, err
	}
	now := s.Now()
	switch {
	case q.Status == Draft:
		return Quiz{}, notFound("quiz", quizID)
	case q.Status == Archived:
		// As an archived challenge: a player who never took it cannot
		// see it (it left /me/quizzes), so it answers as a missing id;
		// one who did learns it is closed.
		if _, took, err := s.lastAttempt(ctx, q, user); err != nil {
			return Quiz{}, err
		} else if !took {
			return Quiz{}, notFound("quiz", quizID)
		}
		return Quiz{}, errs.New(errs.Conflict, "quiz-closed", "quiz %s is archived", quizID)
	case q.StartsAt != nil && now.Before(*q.StartsAt):
		return Quiz{}, errs.New(errs.Conflict, "quiz-not-started", "quiz %s opens at %s", quizID, q.StartsAt.Format(time.RFC3339))
	case q.EndsAt != nil && !now.Before(*q.EndsAt):
		return Quiz{}, errs.New(errs.Conflict, "quiz-ended", "quiz %s closed at %s", quizID, q.EndsAt.Format(time.RFC3339))
	}
	if e := q.Eligibility; e != nil && (len(e.Tiers) > 0 || len(e.Segments) > 0) && s.Attributes != nil {
		attrs, _, err := s.Attributes.GetAttributes(ctx, tenant, user)
		if err != nil {
			return Quiz{}, fmt.Errorf("quizzes: attributes of %s: %w", user, err)
		}
		if !e.Admits(attrs) {
			return Quiz{}, errs.New(errs.Forbidden, "not-eligible", "quiz %s is for other tiers or segments", quizID)
		}
	}
	return q, nil
}

// lastAttempt returns user's latest attempt of q (found false if none),
// settling it if a crash interrupted its effects. Earlier attempts are
// settled already: a new attempt starts only after reading this one.
func (s *Service) lastAttempt(ctx context.Context, q Quiz, user string) (Attempt, bool, error) {
	a, err := s.Store.LastAttempt(ctx, q.Tenant, q.ID, user)
	if errors.Is(err, errs.ErrNotFound) {
		return Attempt{}, false, nil
	}
	if err != nil {
		return Attempt{}, false, fmt.Errorf("quizzes: last attempt of %s: %w", user, err)
	}
	a, err = s.settle(ctx, q, a)
	return a, err == nil, err
}

// usedInPeriod reads from the last attempt how many attempts the user
// began in the attempt period holding now (all time without a period),
// and returns that period's start and end.
func usedInPeriod(sp Spec, last Attempt, found bool, now time.Time) (used int, from, to *time.Time) {
	f, t, ok := periodBounds(sp.AttemptPeriod, now)
	if ok {
		from, to = &f, &t
	}
	if !found {
		return 0, from, to
	}
	if !ok {
		return last.Seq, nil, nil // every attempt counts: seq is their number
	}
	if last.PeriodFrom != nil && last.PeriodFrom.Equal(f) {
		return last.PeriodUsed, from, to
	}
	return 0, from, to // the last attempt began in an earlier period
}

// periodBounds is the UTC day, ISO week (from Monday) or month holding t.
func periodBounds(period string, t time.Time) (from, to time.Time, ok bool) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case "day":
		return day, day.AddDate(0, 0, 1), true
	case "week":
		from = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		return from, from.AddDate(0, 0, 7), true
	case "month":
		from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 1, 0), true
	}
	return time.Time{}, time.Time{}, false
}

// newAttempt draws an attempt's questions and option orders from seed, so
// the same seed always shows the same attempt.
func newAttempt(q Quiz, user string, seq int, seed uint64, now time.Time) Attempt {
	a := Attempt{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: q.Tenant, QuizID: q.ID, User: user, Seq: seq,
		Status: Open, Seed: seed, StartedAt: now, Version: 1, Answers: []Answer{}, Options: map[string][]string{},
	}
	a.Questions, a.Options = draw(q.Spec, seed)
	for _, id := range a.Questions {
		qq, _ := q.question(id)
		a.MaxScore += maxPoints(q.Spec, qq)
	}
	return a
}

func draw(sp Spec, seed uint64) ([]string, map[string][]string) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	picked := map[string]bool{}
	for _, p := range sp.Pools {
		var ids []string
		for _, q := range sp.Questions {
			if q.Pool == p.ID {
				ids = append(ids, q.ID)
			}
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids[:p.Draw] {
			picked[id] = true
		}
	}
	var qs []string
	opts := map[string][]string{}
	for _, q := range sp.Questions {
		if q.Pool != "" && !picked[q.ID] {
			continue
		}
		qs = append(qs, q.ID)
		ids := make([]string, len(q.Options))
		for i, o := range q.Options {
			ids[i] = o.ID
		}
		// Ordering questions are always shuffled: in definition order
		// they would show their own answer.
		if sp.ShuffleOptions || q.Type == scoring.Ordering {
			rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		}
		if len(ids) > 0 {
			opts[q.ID] = ids
		}
	}
	if sp.ShuffleQuestions {
		rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	}
	return qs, opts
}

func maxPoints(sp Spec, q Question) int64 {
	if !q.Type.Scored() {
		return 0
	}
	if sp.SpeedBonus > 0 && q.TimeLimitSeconds > 0 {
		return q.Points + sp.SpeedBonus
	}
	return q.Points
}

// current is the first unanswered question of a and when it was served
// (the attempt's start or the previous answer); ok is false when every
// question is answered.
func (a Attempt) current() (id string, served time.Time, ok bool) {
	served = a.StartedAt
	for _, ans := range a.Answers {
		if ans.At.After(served) {
			served = ans.At
		}
	}
	for _, id := range a.Questions {
		if !slices.ContainsFunc(a.Answers, func(x Answer) bool { return x.QuestionID == id }) {
			return id, served, true
		}
	}
	return "", served, false
}

// Attempt returns one of user's attempts.
func (s *Service) Attempt(ctx context.Context, tenant, id, user string) (Quiz, Attempt, error) {
	a, err := s.Store.GetAttempt(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) || err == nil && a.User != user {
		return Quiz{}, Attempt{}, notFound("attempt", id) // another user's attempt is as good as missing
	}
	if err != nil {
		return Quiz{}, Attempt{}, fmt.Errorf("quizzes: attempt %s: %w", id, err)
	}
	q, err := s.Get(ctx, tenant, a.QuizID)
	if err != nil {
		return Quiz{}, Attempt{}, err
	}
	a, err = s.settle(ctx, q, a)
	return q, a, err
}

// Outcome is what answering said.
type Outcome struct {
	QuestionID string `json:"question_id"`
	// Late is true when the answer came after the question's deadline by
	// the server's clock: it scores zero.
	Late bool `json:"late"`
	// Duplicate is true when the question was answered already: the
	// first answer stays, this one is ignored.
	Duplicate bool `json:"duplicate"`
}

// maxUpdateTries bounds the compare-and-set loop of an answer; losing it
// that often means another request of the same player keeps winning.
const maxUpdateTries = 5

// Answer records user's answer to a question of their attempt, scored on
// the server's clock. The first answer to a question stays. The last
// answer finishes the attempt.
func (s *Service) Answer(ctx context.Context, tenant, id, user, questionID string, in scoring.Answer) (Quiz, Attempt, Outcome, error) {
	if err := s.allowAnswer(ctx, tenant, user); err != nil {
		return Quiz{}, Attempt{}, Outcome{}, err
	}
	for range maxUpdateTries {
		q, a, err := s.Attempt(ctx, tenant, id, user)
		if err != nil {
			return Quiz{}, Attempt{}, Outcome{}, err
		}
		out := Outcome{QuestionID: questionID}
		if i := slices.IndexFunc(a.Answers, func(x Answer) bool { return x.QuestionID == questionID }); i >= 0 {
			out.Late, out.Duplicate = a.Answers[i].Result.Late, true
			return q, a, out, nil
		}
		if a.Status != Open {
			return Quiz{}, Attempt{}, Outcome{}, errs.New(errs.Conflict, "attempt-finished", "attempt %s is finished", id)
		}
		cur, served, _ := a.current()
		if !slices.Contains(a.Questions, questionID) {
			return Quiz{}, Attempt{}, Outcome{}, errs.New(errs.Unprocessable, "bad-answer", "attempt %s has no question %q", id, questionID).OnField("body.question_id")
		}
		if cur != questionID {
			return Quiz{}, Attempt{}, Outcome{}, errs.New(errs.Conflict, "question-not-open", "answer question %q first", cur)
		}
		qq, _ := q.question(questionID)
		if err := checkAnswer(qq, a.Options[questionID], in); err != nil {
			return Quiz{}, Attempt{}, Outcome{}, err
		}
		now := s.now()
		took := now.Sub(served)
		res := scoring.Score(qq.Type, qq.key(), q.rules(qq), in, took)
		a.Answers = append(a.Answers, Answer{QuestionID: questionID, Answer: in, At: now, Took: took, Result: res})
		out.Late = res.Late
		if _, _, more := a.current(); !more {
			a = finished(q, a, now)
		}
		a.Version++
		err = s.Store.UpdateAttempt(ctx, a)
		if errors.Is(err, errs.ErrDuplicate) {
			continue // a concurrent answer or finish: read again, keep the first
		}
		if err != nil {
			return Quiz{}, Attempt{}, Outcome{}, fmt.Errorf("quizzes: answer %s: %w", id, err)
		}
		a, err = s.settle(ctx, q, a)
		return q, a, out, err
	}
	return Quiz{}, Attempt{}, Outcome{}, errs.New(errs.Conflict, "edit-conflict", "attempt %s keeps changing; retry", id)
}

// checkAnswer refuses an answer that does not fit its question.
func checkAnswer(q Question, options []string, a scoring.Answer) error {
	bad := func(field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-answer", format, args...).OnField("body." + field)
	}
	for i, c := range a.Choices {
		if !slices.Contains(options, c) {
			return bad(fmt.Sprintf("choices[%d]", i), "question %s has no option %q", q.ID, c)
		}
	}
	switch q.Type {
	case scoring.Single, scoring.TrueFalse:
		if len(a.Choices) != 1 {
			return bad("choices", "pick exactly one option")
		}
	case scoring.Multiple:
		if len(a.Choices) == 0 || len(dedup(a.Choices)) != len(a.Choices) {
			return bad("choices", "pick one or more different options")
		}
	case scoring.Ordering:
		if len(a.Choices) != len(options) || len(dedup(a.Choices)) != len(a.Choices) {
			return bad("choices", "give every option id once, in your order")
		}
	case scoring.Numeric:
		if a.Number == nil {
			return bad("number", "give a number")
		}
	case scoring.Rating, scoring.NPS:
		lo, hi := 1.0, 5.0
		if q.Type == scoring.NPS {
			lo, hi = 0, 10
		}
		if a.Number == nil || *a.Number < lo || *a.Number > hi || *a.Number != float64(int(*a.Number)) {
			return bad("number", "give a whole number from %g to %g", lo, hi)
		}
	}
	if len(a.Text) > 2000 {
		return bad("text", "at most 2000 characters")
	}
	return nil
}

// Finish ends user's attempt; unanswered questions score nothing.
// Finishing a finished attempt answers as the first finish did.
func (s *Service) Finish(ctx context.Context, tenant, id, user string) (Quiz, Attempt, error) {
	for range maxUpdateTries {
		q, a, err := s.Attempt(ctx, tenant, id, user)
		if err != nil || a.Status == Finished {
			return q, a, err
		}
		a = finished(q, a, s.now())
		a.Version++
		err = s.Store.UpdateAttempt(ctx, a)
		if errors.Is(err, errs.ErrDuplicate) {
			continue
		}
		if err != nil {
			return Quiz{}, Attempt{}, fmt.Errorf("quizzes: finish %s: %w", id, err)
		}
		a, err = s.settle(ctx, q, a)
		return q, a, err
	}
	return Quiz{}, Attempt{}, errs.New(errs.Conflict, "edit-conflict", "attempt %s keeps changing; retry", id)
}

// finished totals a and marks it finished at now.
func finished(q Quiz, a Attempt, now time.Time) Attempt {
	a.Score = 0
	for _, ans := range a.Answers {
		a.Score += ans.Result.Points
	}
	a.Score = max(a.Score, 0) // negative marking never takes a total below zero
	a.Passed = q.Kind == KindQuiz && a.MaxScore > 0 && a.Score*100 >= int64(q.PassMark)*a.MaxScore
	a.Status, a.FinishedAt = Finished, &now
	return a
}
