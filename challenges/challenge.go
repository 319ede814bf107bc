// Package challenges holds challenge definitions, their lifecycle, player
// progress over the event stream, completions and their rewards.
package challenges

import (
	"context"
	"time"
)

// Status is a challenge's place in its lifecycle.
type Status string

// Lifecycle: draft -> published -> archived.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Archived  Status = "archived"
)

// Challenge is a goal over the event stream with a reward.
type Challenge struct {
	ID          string `json:"id"`
	Tenant      string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Status      Status `json:"status"`
	// EventType is the event that counts; Filter, when set, requires each
	// listed prop to equal the given value.
	EventType    string            `json:"event_type"`
	Filter       map[string]string `json:"filter,omitempty"`
	Target       int64             `json:"target"`
	RewardPoints int64             `json:"reward_points"`
	StartsAt     *time.Time        `json:"starts_at,omitempty"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	// Version increases with every update; updates are compare-and-set on it.
	Version int64 `json:"version"`
}

// Contribution is one event counted towards a user's progress. It is unique
// per (tenant, challenge, user, period, event), which is what makes progress
// exact under retries, replays and concurrency: progress is a count of
// contributions, never a counter that a crash could leave half updated.
type Contribution struct {
	Tenant      string
	ChallengeID string
	User        string
	Period      string // "" for a challenge without recurrence
	EventID     string
	Value       int64
	At          time.Time
}

// Completion records that a user completed a challenge in a period; unique
// per (tenant, challenge, user, period).
type Completion struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"-"`
	ChallengeID string    `json:"challenge_id"`
	User        string    `json:"user_id"`
	Period      string    `json:"period,omitempty"`
	EventID     string    `json:"event_id"`
	CompletedAt time.Time `json:"completed_at"`
}

// ProgressRow is a user's contribution count for one challenge and period.
type ProgressRow struct {
	ChallengeID string
	Period      string
	Count       int64
}

// Store keeps challenges, contributions and completions.
type Store interface {
	CreateChallenge(ctx context.Context, c Challenge) error
	// UpdateChallenge replaces c if the stored version is c.Version-1;
	// otherwise it returns an error wrapping errs.ErrDuplicate (a conflict).
	UpdateChallenge(ctx context.Context, c Challenge) error
	GetChallenge(ctx context.Context, tenant, id string) (Challenge, error)
	// ListChallenges pages by id (UUIDv7, so by creation); status "" is all.
	ListChallenges(ctx context.Context, tenant string, status Status, after string, limit int) ([]Challenge, error)
	// AddContribution stores c; inserted is false when it was already there.
	AddContribution(ctx context.Context, c Contribution) (inserted bool, err error)
	// CountContributions counts a user's contributions to a challenge period,
	// stopping at max (max <= 0: no limit).
	CountContributions(ctx context.Context, tenant, challengeID, user, period string, max int64) (int64, error)
	// UserProgress returns a user's counts for every challenge and period.
	UserProgress(ctx context.Context, tenant, user string) ([]ProgressRow, error)
	// InsertCompletion stores c unless the user already completed that
	// challenge period; then it returns the existing one and inserted=false.
	InsertCompletion(ctx context.Context, c Completion) (stored Completion, inserted bool, err error)
	// UserCompletions lists a user's completions, newest first.
	UserCompletions(ctx context.Context, tenant, user string) ([]Completion, error)
}
