package quizzes

import (
	"context"
	"time"

	"github.com/questline/questline/quizzes/scoring"
)

// Phase is where a live show is.
type Phase string

// A show waits in the lobby, then alternates question and results, and
// ends. A paused question keeps its phase with Paused set.
const (
	Lobby   Phase = "lobby"
	Asking  Phase = "question"
	Showing Phase = "results"
	Ended   Phase = "ended"
)

// Session is a live show's shared state. Every node reads it from the
// Engine, so the host may drive it from any node.
type Session struct {
	ID        string              `json:"id"`
	Tenant    string              `json:"-"`
	QuizID    string              `json:"quiz_id"`
	Code      string              `json:"code"`
	Host      string              `json:"host"`
	Questions []string            `json:"questions"`
	Options   map[string][]string `json:"options,omitempty"`
	Phase     Phase               `json:"phase"`
	Index     int                 `json:"index" doc:"The current question, from 0; -1 in the lobby."`
	OpenedAt  time.Time           `json:"opened_at,omitzero" doc:"When the current question opened (moved on by pauses)."`
	Deadline  time.Time           `json:"deadline,omitzero" doc:"Server time after which answers to the current question are refused."`
	Paused    bool                `json:"paused,omitempty"`
	Remaining time.Duration       `json:"remaining,omitempty" doc:"Time left on a paused question."`
	Skipped   []int               `json:"skipped,omitempty" doc:"Questions the host skipped: they score nothing."`
	CreatedAt time.Time           `json:"created_at"`
	EndedAt   *time.Time          `json:"ended_at,omitempty"`
	Version   int64               `json:"version"`
}

// Player is one player's standing in a live show.
type Player struct {
	User     string        `json:"user_id"`
	Score    int64         `json:"score"`
	Streak   int           `json:"streak"`
	Time     time.Duration `json:"time" doc:"Total time taken by the answers given, in nanoseconds: the tie-break."`
	Answered int           `json:"answered"`
	JoinedAt time.Time     `json:"joined_at"`
	// Last is the verdict on the last scored question.
	Last *LastResult `json:"last,omitempty"`
}

// LastResult is a player's result on one question.
type LastResult struct {
	Index   int   `json:"index"`
	Points  int64 `json:"points"`
	Correct bool  `json:"correct"`
	Missed  bool  `json:"missed,omitempty" doc:"No answer was given."`
}

// LiveAnswer is one accepted answer, stamped with the server's clock.
type LiveAnswer struct {
	User   string         `json:"user_id"`
	Answer scoring.Answer `json:"answer"`
	At     time.Time      `json:"at"`
}

// Engine keeps live shows: in memory on one node, in Redis across nodes.
// Both implementations pass one test table (engine_test.go).
type Engine interface {
	// CreateSession stores s and claims its join code for the tenant; a
	// taken code is errs.ErrDuplicate and stores nothing.
	CreateSession(ctx context.Context, s Session) error
	// SessionByCode returns the id a join code names, or errs.ErrNotFound.
	SessionByCode(ctx context.Context, tenant, code string) (string, error)
	// GetSession returns a session, or errs.ErrNotFound.
	GetSession(ctx context.Context, tenant, id string) (Session, error)
	// SwapSession replaces the session if its stored version is
	// s.Version-1 and reports whether it did: of racing hosts (on any
	// nodes) exactly one moves the show on.
	SwapSession(ctx context.Context, s Session) (bool, error)
	// Join adds user with no score unless they joined before; it returns
	// the stored player (a rejoin keeps its score and streak) and whether
	// they are new.
	Join(ctx context.Context, tenant, id, user string, at time.Time) (Player, bool, error)
	// Player returns one player; ok is false for one who never joined.
	Player(ctx context.Context, tenant, id, user string) (Player, bool, error)
	// Players returns every player, in no order.
	Players(ctx context.Context, tenant, id string) ([]Player, error)
	// PlayerCount counts the players without reading them: a join must
	// not cost in proportion to the players before it.
	PlayerCount(ctx context.Context, tenant, id string) (int, error)
	// Answer stores a user's answer to question q unless they answered
	// it already (then false, and the first stays).
	Answer(ctx context.Context, tenant, id string, q int, a LiveAnswer) (bool, error)
	// Answered reports whether user answered question q.
	Answered(ctx context.Context, tenant, id string, q int, user string) (bool, error)
	// Answers returns every answer to question q, in no order.
	Answers(ctx context.Context, tenant, id string, q int) ([]LiveAnswer, error)
	// Score writes players' standings after question q, once: a second
	// call for the same q writes nothing and returns false, so racing
	// nodes score every answer exactly once.
	Score(ctx context.Context, tenant, id string, q int, ps []Player) (bool, error)
	// UserSessions lists the shows user joined (within sessionTTL), for
	// their export and erasure; Join records it before adding the player.
	UserSessions(ctx context.Context, tenant, user string) ([]string, error)
	// PlayerAnswers returns user's answers to the first n questions of a
	// show, by question index.
	PlayerAnswers(ctx context.Context, tenant, id, user string, n int) (map[int]LiveAnswer, error)
	// ErasePlayer deletes user's player and answers (first n questions)
	// from a show, and the show from UserSessions. Repeating it is harmless.
	ErasePlayer(ctx context.Context, tenant, id, user string, n int) error
	// Schedule records that the show's open question closes at deadline,
	// replacing its earlier deadline: every node polls Due, so the close
	// happens even if the node that opened the question is gone.
	Schedule(ctx context.Context, tenant, id string, deadline time.Time) error
	// Due returns up to limit shows whose scheduled deadline is not after
	// now, earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Deadline, error)
	// Unschedule drops d if it is still the show's scheduled deadline (a
	// newer one stays).
	Unschedule(ctx context.Context, d Deadline) error
	Ping(ctx context.Context) error
}

// Deadline is a show's scheduled close.
type Deadline struct {
	Tenant, ID string
	At         time.Time
}

// sessionTTL bounds how long a show's state stays in the engine.
const sessionTTL = 24 * time.Hour
