package quizzes

import (
	"context"
	"slices"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/quizzes/scoring"
)

// PlayerQuiz is what a player reads of a quiz: never its questions.
type PlayerQuiz struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Description   string            `json:"description,omitempty"`
	Kind          Kind              `json:"kind"`
	Questions     int               `json:"questions" doc:"How many questions an attempt asks."`
	PassMark      int               `json:"pass_mark,omitempty"`
	MaxAttempts   int               `json:"max_attempts,omitempty"`
	AttemptPeriod string            `json:"attempt_period,omitempty"`
	AttemptsUsed  int               `json:"attempts_used" doc:"In the current attempt period (all time without one)."`
	ResetsAt      *time.Time        `json:"resets_at,omitempty" doc:"When the attempt period ends and attempts_used starts again at 0."`
	StartsAt      *time.Time        `json:"starts_at,omitempty"`
	EndsAt        *time.Time        `json:"ends_at,omitempty"`
	Reward        challenges.Reward `json:"reward,omitzero"`
	RewardOn      RewardOn          `json:"reward_on"`
}

// ForPlayer returns q as user sees it.
func (s *Service) ForPlayer(ctx context.Context, q Quiz, user string) (PlayerQuiz, error) {
	last, found, err := s.lastAttempt(ctx, q, user)
	if err != nil {
		return PlayerQuiz{}, err
	}
	used, _, resets := usedInPeriod(q.Spec, last, found, s.Now())
	n := len(q.Questions)
	for _, p := range q.Pools {
		n -= poolSize(q.Spec, p.ID) - p.Draw
	}
	return PlayerQuiz{
		ID: q.ID, Name: q.Name, Description: q.Description, Kind: q.Kind, Questions: n, PassMark: q.PassMark,
		MaxAttempts: q.MaxAttempts, AttemptPeriod: q.AttemptPeriod, AttemptsUsed: used, ResetsAt: resets,
		StartsAt: q.StartsAt, EndsAt: q.EndsAt, Reward: q.Reward, RewardOn: q.RewardOn,
	}, nil
}

func poolSize(sp Spec, pool string) int {
	n := 0
	for _, q := range sp.Questions {
		if q.Pool == pool {
			n++
		}
	}
	return n
}

// PlayerQuestion is a question without its key, options in the attempt's
// order.
type PlayerQuestion struct {
	ID               string       `json:"id"`
	Type             scoring.Kind `json:"type"`
	Text             string       `json:"text"`
	Options          []Option     `json:"options,omitempty"`
	Points           int64        `json:"points,omitempty" doc:"What a right answer is worth."`
	TimeLimitSeconds int          `json:"time_limit_seconds,omitempty"`
}

// AnswerView is a given answer; its verdict shows only in review.
type AnswerView struct {
	QuestionID string         `json:"question_id"`
	Late       bool           `json:"late"`
	At         time.Time      `json:"at"`
	Answer     scoring.Answer `json:"answer"`
}

// Review is one question of an ended attempt, with its right answer, for
// quizzes that allow review.
type Review struct {
	QuestionID string   `json:"question_id"`
	Correct    []string `json:"correct,omitempty"`
	Accepted   []string `json:"accepted,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	Points     int64    `json:"points"`
	Right      bool     `json:"right"`
}

// AttemptView is an attempt as its player sees it: no key, no verdict
// and no score until it ends; the key after it only with review.
type AttemptView struct {
	ID        string           `json:"id"`
	QuizID    string           `json:"quiz_id"`
	Seq       int              `json:"seq"`
	Status    AttemptStatus    `json:"status"`
	Resumed   bool             `json:"resumed,omitempty" doc:"Start returned the open attempt instead of a new one."`
	Questions []PlayerQuestion `json:"questions"`
	Answers   []AnswerView     `json:"answers"`
	// Current is the question to answer now, served at ServedAt; after
	// Deadline (server clock) its answer scores zero.
	Current    string     `json:"current,omitempty"`
	ServedAt   *time.Time `json:"served_at,omitempty"`
	Deadline   *time.Time `json:"deadline,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Score      *int64     `json:"score,omitempty"`
	MaxScore   *int64     `json:"max_score,omitempty"`
	Passed     *bool      `json:"passed,omitempty"`
	Review     []Review   `json:"review,omitempty"`
}

// View renders a for its player.
func View(q Quiz, a Attempt) AttemptView {
	v := AttemptView{
		ID: a.ID, QuizID: a.QuizID, Seq: a.Seq, Status: a.Status, StartedAt: a.StartedAt, FinishedAt: a.FinishedAt,
		Questions: make([]PlayerQuestion, 0, len(a.Questions)), Answers: make([]AnswerView, 0, len(a.Answers)),
	}
	for _, id := range a.Questions {
		qq, _ := q.question(id)
		v.Questions = append(v.Questions, playerQuestion(qq, a.Options[id]))
	}
	for _, ans := range a.Answers {
		v.Answers = append(v.Answers, AnswerView{QuestionID: ans.QuestionID, Late: ans.Result.Late, At: ans.At, Answer: ans.Answer})
	}
	if id, served, ok := a.current(); ok && a.Status == Open {
		v.Current, v.ServedAt = id, &served
		if qq, _ := q.question(id); qq.limit() > 0 {
			d := served.Add(qq.limit())
			v.Deadline = &d
		}
	}
	if a.Status == Finished {
		v.Score, v.MaxScore = &a.Score, &a.MaxScore
		if q.Kind == KindQuiz {
			v.Passed = &a.Passed
		}
		if q.Review && q.Kind == KindQuiz {
			v.Review = review(q, a)
		}
	}
	return v
}

func playerQuestion(q Question, order []string) PlayerQuestion {
	pq := PlayerQuestion{ID: q.ID, Type: q.Type, Text: q.Text, Points: q.Points, TimeLimitSeconds: q.TimeLimitSeconds}
	for _, id := range order {
		if i := slices.IndexFunc(q.Options, func(o Option) bool { return o.ID == id }); i >= 0 {
			pq.Options = append(pq.Options, q.Options[i])
		}
	}
	return pq
}

func review(q Quiz, a Attempt) []Review {
	out := make([]Review, 0, len(a.Questions))
	for _, id := range a.Questions {
		qq, _ := q.question(id)
		r := Review{QuestionID: id, Correct: qq.Correct, Accepted: qq.Accepted, Value: qq.Value}
		if i := slices.IndexFunc(a.Answers, func(x Answer) bool { return x.QuestionID == id }); i >= 0 {
			r.Points, r.Right = a.Answers[i].Result.Points, a.Answers[i].Result.Correct
		}
		out = append(out, r)
	}
	return out
}
