// Package challenges holds challenge definitions, their lifecycle, player
// progress over the event stream, completions, claims and their rewards:
// points, badges and unlockable content.
package challenges

import (
	"context"
	"time"

	"github.com/questline/questline/events/rule"
)

// Status is a challenge's place in its lifecycle.
type Status string

// Lifecycle: draft -> published -> archived.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Archived  Status = "archived"
)

// Enrolment says who takes part.
type Enrolment string

// Auto enrols every eligible player; OptIn counts only players who joined
// (POST /challenges/{id}/join), from the moment they joined.
const (
	Auto  Enrolment = "auto"
	OptIn Enrolment = "opt_in"
)

// ClaimMode says how a completion's reward is paid.
type ClaimMode string

// AutoClaim pays on completion; ManualClaim waits for POST
// /challenges/{id}/claim.
const (
	AutoClaim   ClaimMode = "auto"
	ManualClaim ClaimMode = "manual"
)

// Eligibility limits a challenge to players with one of the tiers or one
// of the segments set on them (PUT /users/{id}/attributes). Empty lists
// admit everyone.
type Eligibility struct {
	Tiers    []string `json:"tiers,omitempty" maxItems:"20"`
	Segments []string `json:"segments,omitempty" maxItems:"50"`
}

// Reward is what completing pays: points, a badge and unlockable content.
type Reward struct {
	Points int64  `json:"points,omitempty" minimum:"0" maximum:"1000000000"`
	Badge  string `json:"badge_id,omitempty" maxLength:"64" doc:"A badge awarded on completion."`
	Unlock string `json:"unlock,omitempty" maxLength:"128" doc:"A content key the app shows once unlocked, e.g. recipe-42."`
}

// Limits throttle what counts, for share-to-unlock and the like: a
// contribution counts only MinInterval after the previous counted one, and
// at most DailyCap count per day (in the rule's time zone). They are
// applied over contributions in occurred_at order, so arrival order,
// retries and concurrency cannot change the outcome.
type Limits struct {
	MinInterval string `json:"min_interval,omitempty" maxLength:"16" doc:"e.g. 10m: counted contributions at least this far apart."`
	DailyCap    int64  `json:"daily_cap,omitempty" minimum:"0" maximum:"10000" doc:"At most this many counted contributions per day."`
}

// Challenge is a rule over the event stream with a reward.
type Challenge struct {
	ID          string       `json:"id"`
	Tenant      string       `json:"-"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Status      Status       `json:"status"`
	Rule        rule.Rule    `json:"rule"`
	Limits      *Limits      `json:"limits,omitempty"`
	Enrolment   Enrolment    `json:"enrolment"`
	Eligibility *Eligibility `json:"eligibility,omitempty"`
	Reward      Reward       `json:"reward"`
	Claim       ClaimMode    `json:"claim"`
	// MaxCompletions caps completions per user: 1 for a one-off
	// challenge; for a recurring or rolling one, 0 means once per period
	// without an overall cap.
	MaxCompletions int64     `json:"max_completions"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Version increases with every update; updates are compare-and-set on it.
	Version int64 `json:"version"`
}

// Contribution is one event counted towards one goal of a user's progress.
// It is unique per (tenant, challenge, user, period, goal, event), which is
// what makes progress exact under retries, replays and concurrency:
// progress is always folded from contributions, never a counter that a
// crash could leave half updated.
type Contribution struct {
	Tenant      string
	ChallengeID string
	User        string
	Period      string // the rule's period key; "" for a single-period window
	Goal        string
	EventID     string
	Amount      int64  // 1 for count and distinct, thousandths for sum
	Key         string // distinct goals: the value's canonical key
	At          time.Time
}

// TallyWidth is the span of the buckets AddContribution folds amounts into:
// UTC hours (bucket b holds At in [b, b+TallyWidth)). Progress reads the
// buckets a window covers whole and the contributions of at most the two
// partial buckets at its edges, so its cost is bounded by the window's
// hours and by what one user may send in an hour, not by their history.
const TallyWidth = time.Hour

// TallyBucket returns the start of the tally bucket holding t.
func TallyBucket(t time.Time) time.Time {
	w := TallyWidth.Milliseconds()
	ms := t.UnixMilli()
	return time.UnixMilli(ms - ((ms%w)+w)%w).UTC()
}

// DayBucket returns the start of the UTC day holding t. Stores may keep
// tallies by day as well as by hour (a UTC day is whole hours), so that a
// long range reads a row per day and the hours at its ends.
func DayBucket(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// TallyDays returns the whole UTC days inside [from, to) as [d0, d1): a
// range reads hours in [from, d0), days in [d0, d1) and hours in [d1, to).
// ok is false when no whole day fits.
func TallyDays(from, to time.Time) (d0, d1 time.Time, ok bool) {
	d0, d1 = DayBucket(from), DayBucket(to)
	if d0.Before(from) {
		d0 = d0.Add(24 * time.Hour)
	}
	return d0, d1, d0.Before(d1)
}

// Completion records that a user completed a challenge; unique per
// (tenant, challenge, user, period). Period is the rule's period key, or
// for repeatable challenges "#n" after it (the n-th completion).
type Completion struct {
	ID          string     `json:"id"`
	Tenant      string     `json:"-"`
	ChallengeID string     `json:"challenge_id"`
	User        string     `json:"user_id"`
	Period      string     `json:"period,omitempty"`
	EventID     string     `json:"event_id"`
	CompletedAt time.Time  `json:"completed_at"`
	ClaimedAt   *time.Time `json:"claimed_at,omitempty"`
}

// Membership records that a user joined an opt-in challenge.
type Membership struct {
	Tenant      string
	ChallengeID string
	User        string
	JoinedAt    time.Time
}

// Unlock is content a user unlocked; unique per (tenant, user, content).
type Unlock struct {
	Tenant     string    `json:"-"`
	User       string    `json:"-"`
	Content    string    `json:"content"`
	Source     string    `json:"source" doc:"What unlocked it, e.g. challenge:{id}."`
	UnlockedAt time.Time `json:"unlocked_at"`
}

// Stats are a challenge's numbers for its manager.
type Stats struct {
	Participants int64 `json:"participants" doc:"Users with any progress."`
	Completions  int64 `json:"completions"`
	Completers   int64 `json:"completers" doc:"Distinct users who completed it at least once."`
	Joined       int64 `json:"joined" doc:"Opt-in challenges: users who joined."`
}

// Store keeps challenges, contributions, completions, memberships and
// unlocks.
type Store interface {
	UserData // export and erasure: privacy.go
	CreateChallenge(ctx context.Context, c Challenge) error
	// UpdateChallenge replaces c if the stored version is c.Version-1;
	// otherwise it returns an error wrapping errs.ErrDuplicate (a conflict).
	UpdateChallenge(ctx context.Context, c Challenge) error
	GetChallenge(ctx context.Context, tenant, id string) (Challenge, error)
	// ListChallenges pages by id (UUIDv7, so by creation); status "" is all.
	ListChallenges(ctx context.Context, tenant string, status Status, after string, limit int) ([]Challenge, error)

	// AddContribution stores c and, in the same write, adds c.Amount to
	// the tally of its goal's TallyWidth bucket holding c.At (see Tally);
	// inserted is false when it was already there, and the tally is then
	// unchanged, so a replay never adds twice.
	AddContribution(ctx context.Context, c Contribution) (inserted bool, err error)
	// Contributions returns a user's contributions to one period of a
	// challenge, every goal, in (At, EventID) order.
	Contributions(ctx context.Context, tenant, challengeID, user, period string) ([]Contribution, error)
	// ContributionsBetween is Contributions limited to At in [from, to).
	ContributionsBetween(ctx context.Context, tenant, challengeID, user, period string, from, to time.Time) ([]Contribution, error)
	// Contribution returns the contribution of one event to one goal; ok
	// is false when there is none.
	Contribution(ctx context.Context, tenant, challengeID, user, period, goal, eventID string) (c Contribution, ok bool, err error)
	// Tally sums the amounts of a user's contributions to one goal and
	// period whose TallyWidth bucket starts in [from, to). It reads the
	// folded tallies, not the contributions (but for a server where a
	// store cannot keep tallies exact: see the MongoDB store on FerretDB).
	Tally(ctx context.Context, tenant, challengeID, user, period, goal string, from, to time.Time) (int64, error)
	// PruneContributions deletes a challenge's contributions with At
	// before `before`, in batches, keeping the tallies they were folded
	// into; progress gets the running count. A store whose tallies are not
	// exact (MongoDB on FerretDB) keeps them and reports 0.
	PruneContributions(ctx context.Context, tenant, challengeID string, before time.Time, progress func(int64)) (int64, error)

	// InsertCompletion stores c unless the user already completed that
	// challenge period; then it returns the existing one and inserted=false.
	InsertCompletion(ctx context.Context, c Completion) (stored Completion, inserted bool, err error)
	// UserCompletions lists a user's completions, newest first.
	UserCompletions(ctx context.Context, tenant, user string) ([]Completion, error)
	// ChallengeCompletions lists a user's completions of one challenge,
	// oldest first.
	ChallengeCompletions(ctx context.Context, tenant, challengeID, user string) ([]Completion, error)
	// ClaimCompletion sets ClaimedAt on an unclaimed completion; claimed is
	// false when it was claimed already.
	ClaimCompletion(ctx context.Context, tenant, completionID string, at time.Time) (claimed bool, err error)

	// Join stores e; inserted is false when the user had joined already
	// (the first JoinedAt stays).
	Join(ctx context.Context, e Membership) (stored Membership, inserted bool, err error)
	// Enrolled returns the user's enrolment; ok is false when there is none.
	Enrolled(ctx context.Context, tenant, challengeID, user string) (e Membership, ok bool, err error)

	// AddUnlock stores u; inserted is false when the user had it already.
	AddUnlock(ctx context.Context, u Unlock) (inserted bool, err error)
	// UserUnlocks lists a user's unlocks, newest first.
	UserUnlocks(ctx context.Context, tenant, user string) ([]Unlock, error)

	// ChallengeStats counts a challenge's participants (users with a
	// contribution), completions, completers and enrolments.
	ChallengeStats(ctx context.Context, tenant, challengeID string) (Stats, error)
}
