// Package quizzes holds self-paced quizzes and surveys (definitions,
// attempts scored on the server's clock, results) and live quiz shows run
// by a host, whose state lives in an Engine (memory or Redis).
package quizzes

import (
	"context"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/quizzes/scoring"
)

// Status is a quiz's place in its lifecycle: draft -> published -> archived.
type Status string

// The lifecycle, as challenges have it.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Archived  Status = "archived"
)

// Kind tells a quiz, which has right answers, from a survey, which has none.
type Kind string

// The kinds.
const (
	KindQuiz   Kind = "quiz"
	KindSurvey Kind = "survey"
)

// Option is one choice of a question.
type Option struct {
	ID   string `json:"id" minLength:"1" maxLength:"32" doc:"Stable id answers name, e.g. a."`
	Text string `json:"text" minLength:"1" maxLength:"500"`
}

// Question is one question with its answer key. Only managers read it
// whole; players get a PlayerQuestion.
type Question struct {
	ID               string       `json:"id" minLength:"1" maxLength:"32"`
	Type             scoring.Kind `json:"type" enum:"single,multiple,true_false,text,numeric,ordering,rating,nps,open_text"`
	Text             string       `json:"text" minLength:"1" maxLength:"1000"`
	Options          []Option     `json:"options,omitempty" maxItems:"20" doc:"Choice and ordering questions; true_false gets true and false."`
	Points           int64        `json:"points,omitempty" minimum:"0" maximum:"100000" doc:"For a right answer; default 1 on a quiz."`
	Partial          bool         `json:"partial,omitempty" doc:"multiple and ordering: credit in proportion to how right the answer is."`
	Negative         int64        `json:"negative,omitempty" minimum:"0" maximum:"100000" doc:"Taken off for a wrong answer (negative marking)."`
	TimeLimitSeconds int          `json:"time_limit_seconds,omitempty" minimum:"0" maximum:"3600" doc:"An answer later than this, by the server's clock from when the question was served, scores zero."`
	Pool             string       `json:"pool,omitempty" maxLength:"32" doc:"The pool it is drawn from; questions without a pool are always asked."`
	// The key.
	Correct   []string `json:"correct,omitempty" maxItems:"20" doc:"single/true_false: the right option id; multiple: every right one; ordering: every option id in the right order."`
	Accepted  []string `json:"accepted,omitempty" maxItems:"20" doc:"text: accepted answers, compared trimmed and ignoring case and accents."`
	Value     *float64 `json:"value,omitempty" doc:"numeric: the right number."`
	Tolerance float64  `json:"tolerance,omitempty" minimum:"0" doc:"numeric: how far from value an answer may be."`
}

// Pool draws some of the questions that name it, at random per attempt.
type Pool struct {
	ID   string `json:"id" minLength:"1" maxLength:"32"`
	Draw int    `json:"draw" minimum:"1" maximum:"200" doc:"How many of its questions each attempt gets."`
}

// RewardOn says when a quiz pays its reward.
type RewardOn string

// Paid on finishing, or only on passing.
const (
	OnCompletion RewardOn = "completion"
	OnPass       RewardOn = "pass"
)

// Live tunes a quiz run as a live show.
type Live struct {
	MaxPoints   int64               `json:"max_points,omitempty" minimum:"0" maximum:"100000" doc:"Points of an instant right answer; default 1000 (see the speed formula)."`
	StreakStep  int64               `json:"streak_step,omitempty" minimum:"0" maximum:"100000" doc:"Bonus per right answer in a row before this one; default 100."`
	StreakCap   int                 `json:"streak_cap,omitempty" minimum:"0" maximum:"100" doc:"At most this many steps; default 5."`
	Seconds     int                 `json:"seconds,omitempty" minimum:"0" maximum:"600" doc:"Seconds per question when it has no time limit; default 20."`
	Winners     []challenges.Reward `json:"winners,omitempty" maxItems:"10" doc:"Rewards of the podium: first, second, ..."`
	Participant *challenges.Reward  `json:"participant,omitempty" doc:"Reward of everyone who answered at least once."`
}

// Spec is what a manager writes: everything but identity and lifecycle.
type Spec struct {
	Name        string     `json:"name" minLength:"1" maxLength:"200"`
	Description string     `json:"description,omitempty" maxLength:"2000"`
	Kind        Kind       `json:"kind,omitempty" enum:"quiz,survey" default:"quiz"`
	Questions   []Question `json:"questions" maxItems:"200"`
	Pools       []Pool     `json:"pools,omitempty" maxItems:"20"`
	// ShuffleQuestions and ShuffleOptions are seeded per attempt, so a
	// resumed attempt shows the same order.
	ShuffleQuestions bool                    `json:"shuffle_questions,omitempty"`
	ShuffleOptions   bool                    `json:"shuffle_options,omitempty"`
	PassMark         int                     `json:"pass_mark,omitempty" minimum:"0" maximum:"100" doc:"Percent of max_score that passes."`
	SpeedBonus       int64                   `json:"speed_bonus,omitempty" minimum:"0" maximum:"100000" doc:"Up to this much more for a fast right answer to a timed question, in proportion to the time left."`
	MaxAttempts      int                     `json:"max_attempts,omitempty" minimum:"0" maximum:"1000" doc:"Attempts per user (per attempt_period if set); 0 is unlimited."`
	AttemptPeriod    string                  `json:"attempt_period,omitempty" enum:"day,week,month" doc:"UTC period max_attempts counts in."`
	StartsAt         *time.Time              `json:"starts_at,omitempty"`
	EndsAt           *time.Time              `json:"ends_at,omitempty"`
	Reward           challenges.Reward       `json:"reward,omitzero"`
	RewardOn         RewardOn                `json:"reward_on,omitempty" enum:"completion,pass" default:"completion"`
	Eligibility      *challenges.Eligibility `json:"eligibility,omitempty"`
	Review           bool                    `json:"review,omitempty" doc:"Players see the right answers of their attempt once it ended."`
	Live             *Live                   `json:"live,omitempty"`
}

// Quiz is a stored quiz or survey.
type Quiz struct {
	ID     string `json:"id"`
	Tenant string `json:"-"`
	Status Status `json:"status"`
	Spec
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// AttemptStatus is open until the attempt is finished.
type AttemptStatus string

// The states of an attempt.
const (
	Open     AttemptStatus = "open"
	Finished AttemptStatus = "finished"
)

// Answer is one recorded answer of an attempt.
type Answer struct {
	QuestionID string         `json:"question_id"`
	Answer     scoring.Answer `json:"answer"`
	At         time.Time      `json:"at"`
	Took       time.Duration  `json:"took"`
	Result     scoring.Result `json:"result"`
}

// Attempt is one user's go at a quiz. Its draw (questions and option
// orders) is fixed when it starts, from its seed.
type Attempt struct {
	ID         string              `json:"id"`
	Tenant     string              `json:"-"`
	QuizID     string              `json:"quiz_id"`
	User       string              `json:"user_id"`
	Seq        int                 `json:"seq"`
	Status     AttemptStatus       `json:"status"`
	Seed       uint64              `json:"seed"`
	Questions  []string            `json:"questions"`
	Options    map[string][]string `json:"options,omitempty"`
	Answers    []Answer            `json:"answers"`
	Score      int64               `json:"score"`
	MaxScore   int64               `json:"max_score"`
	Passed     bool                `json:"passed"`
	StartedAt  time.Time           `json:"started_at"`
	FinishedAt *time.Time          `json:"finished_at,omitempty"`
	// PeriodFrom and PeriodUsed fold the attempt count: the start of the
	// attempt period this attempt began in (nil without a period) and how
	// many attempts the user began in it, this one included. Written with
	// the attempt itself (its seq is unique), so starting reads only the
	// last attempt, whatever the user's history.
	PeriodFrom *time.Time `json:"period_from,omitempty"`
	PeriodUsed int        `json:"period_used,omitempty"`
	// Settled is set once a finished attempt's effects (quiz.completed,
	// rewards) are all written; until then every read finishes them,
	// which is safe because each is keyed by the attempt.
	Settled bool  `json:"settled"`
	Version int64 `json:"version"`
}

// Store keeps quizzes and attempts.
type Store interface {
	CreateQuiz(ctx context.Context, q Quiz) error
	// UpdateQuiz replaces q if the stored version is q.Version-1;
	// otherwise it returns an error wrapping errs.ErrDuplicate.
	UpdateQuiz(ctx context.Context, q Quiz) error
	GetQuiz(ctx context.Context, tenant, id string) (Quiz, error)
	// ListQuizzes pages by id; status "" is every status.
	ListQuizzes(ctx context.Context, tenant string, status Status, after string, limit int) ([]Quiz, error)

	// InsertAttempt stores a unless the user already has an attempt of
	// that quiz with a.Seq; then it returns that one and inserted=false.
	// The unique (quiz, user, seq) is what lets only one attempt be open.
	InsertAttempt(ctx context.Context, a Attempt) (stored Attempt, inserted bool, err error)
	// UpdateAttempt replaces a if the stored version is a.Version-1;
	// otherwise errs.ErrDuplicate (or errs.ErrNotFound).
	UpdateAttempt(ctx context.Context, a Attempt) error
	GetAttempt(ctx context.Context, tenant, id string) (Attempt, error)
	// UserAttempts lists a user's attempts of one quiz ("" for every
	// quiz), oldest first.
	UserAttempts(ctx context.Context, tenant, quizID, user string) ([]Attempt, error)
	// LastAttempt returns the user's attempt of quizID with the highest
	// seq (the only one that may be open), or errs.ErrNotFound.
	LastAttempt(ctx context.Context, tenant, quizID, user string) (Attempt, error)
	// QuizAttempts pages a quiz's attempts by id.
	QuizAttempts(ctx context.Context, tenant, quizID, after string, limit int) ([]Attempt, error)
	// EraseQuizUser deletes the user's attempts. Repeating it changes nothing.
	EraseQuizUser(ctx context.Context, tenant, user string) error
	// QuizStarts counts a quiz's attempts and the users who began one
	// over an index on (tenant, quiz, seq): a user's first attempt has
	// seq 1, so users are the attempts with seq 1.
	QuizStarts(ctx context.Context, tenant, quizID string) (Starts, error)
}

// Starts is how often a quiz was begun (self-paced attempts; live shows
// keep no attempts).
type Starts struct {
	Attempts int64 // attempts begun, open and finished
	Users    int64 // users who began at least one
}
