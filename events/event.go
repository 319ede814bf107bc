// Package events is the front door of Questline: event intake, idempotency,
// dispatch to the rule handlers (challenges, badges, ...), system events and
// the sweeper that finishes events a crash left half done.
package events

import (
	"context"
	"time"
)

// Event is one thing a user did, as accepted by intake.
type Event struct {
	ID             string         `json:"id"`
	Tenant         string         `json:"-"`
	User           string         `json:"user_id"`
	Type           string         `json:"type"`
	Props          map[string]any `json:"props,omitempty"`
	OccurredAt     time.Time      `json:"occurred_at"`
	ReceivedAt     time.Time      `json:"received_at"`
	IdempotencyKey string         `json:"idempotency_key"`
	// Source says who sent it: "player", "key:<id>" or "system".
	Source string `json:"source"`
	// Fingerprint is a hash of (user, type, props, occurred_at) so a reused
	// idempotency key with a different payload is caught.
	Fingerprint string `json:"-"`
	// Processed is set once every effect of the event is written; Result
	// then holds what the first processing reported.
	Processed   bool       `json:"processed"`
	ProcessedAt *time.Time `json:"processed_at,omitempty"`
	Result      *Result    `json:"-"`
	// Attempts counts the sweeper's failed tries at an unprocessed event;
	// NextAttemptAt is the earliest it tries again (nil: at once).
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// DeadAt is set when the event was given up on (dead-lettered), and
	// DeadReason says why: too-many-attempts or system-event-depth.
	DeadAt     *time.Time `json:"dead_at,omitempty"`
	DeadReason string     `json:"dead_reason,omitempty"`
}

// Attempt is what a failed try at an event leaves: how many tries failed,
// when to try again, and, once given up on, when and why.
type Attempt struct {
	Attempts   int
	NextAt     time.Time
	DeadAt     *time.Time
	DeadReason string
}

// Result is what an event changed, returned to the caller and stored with
// the event so a repeat of its idempotency key returns the same answer.
type Result struct {
	EventID     string       `json:"event_id"`
	Replayed    bool         `json:"replayed"`
	Progress    []Progress   `json:"progress"`
	Completions []Completion `json:"completions"`
	Points      []Points     `json:"points"`
}

// Progress is a challenge's progress for the event's user after the event.
// Current and Target are the single goal's, in its unit (a sum in the
// prop's unit, exact to three decimals); for several goals they count goals
// met of goals.
type Progress struct {
	ChallengeID string         `json:"challenge_id"`
	Name        string         `json:"name"`
	Period      string         `json:"period,omitempty" doc:"The recurring period this progress is in, e.g. 2026-11-23."`
	Current     float64        `json:"current"`
	Target      float64        `json:"target"`
	Completed   bool           `json:"completed"`
	Goals       []GoalProgress `json:"goals,omitempty"`
}

// GoalProgress is one goal's progress.
type GoalProgress struct {
	ID      string  `json:"id"`
	Label   string  `json:"label,omitempty"`
	Current float64 `json:"current"`
	Target  float64 `json:"target"`
	Met     bool    `json:"met"`
}

// Completion reports a challenge completed by this event.
type Completion struct {
	ChallengeID  string `json:"challenge_id"`
	Name         string `json:"name"`
	RewardPoints int64  `json:"reward_points"`
}

// Points is a ledger entry paid because of this event.
type Points struct {
	Amount  int64  `json:"amount"`
	Reason  string `json:"reason"`
	Balance int64  `json:"balance"`
}

// Store keeps events. (tenant, idempotency_key) is unique.
type Store interface {
	UserData // export and erasure: privacy.go
	// InsertEvent stores e. If the tenant already has an event with e's
	// idempotency key, it returns that event and inserted=false.
	InsertEvent(ctx context.Context, e Event) (stored Event, inserted bool, err error)
	// MarkProcessed records that every effect of the event is written.
	MarkProcessed(ctx context.Context, tenant, id string, r Result, at time.Time) error
	// Unprocessed lists events of any tenant not yet processed nor dead
	// that were received before the given time and whose next attempt is
	// due by then, oldest first.
	Unprocessed(ctx context.Context, receivedBefore time.Time, limit int) ([]Event, error)
	// RecordAttempt stores a failed try at an unprocessed event; a
	// processed one is left alone.
	RecordAttempt(ctx context.Context, tenant, id string, a Attempt) error
	// DeadEvents pages a tenant's dead, unprocessed events newest first,
	// starting after the id `before` ("" = from the newest).
	DeadEvents(ctx context.Context, tenant, before string, limit int) ([]Event, error)
	// Revive takes a dead, unprocessed event out of the dead letters, with
	// no attempts and due at once, and returns it; errs.ErrNotFound when
	// the tenant has no such event.
	Revive(ctx context.Context, tenant, id string) (Event, error)
	// CountDead counts the dead, unprocessed events of every tenant.
	CountDead(ctx context.Context) (int64, error)
}
