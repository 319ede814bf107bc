package leaderboards

import (
	"context"
	"time"
)

// Window is the span of time a board ranks over. Each period of a window is
// its own ranked set; a new period starts empty and old periods stay
// readable for the board's retention.
type Window string

// The windows a board can have. Daily, weekly (ISO, from Monday) and monthly
// periods follow the board's time zone; custom spans the board's own
// [starts_at, ends_at).
const (
	AllTime Window = "all_time"
	Daily   Window = "daily"
	Weekly  Window = "weekly"
	Monthly Window = "monthly"
	Custom  Window = "custom"
)

// Source is what feeds a board.
type Source string

// Points boards rank points earned in the window, read from the ledger (so
// later spending or expiry never lowers a rank); event boards rank a metric
// of one event type, such as a quiz score or a purchase amount.
const (
	FromPoints Source = "points"
	FromEvents Source = "event"
)

// Aggregation folds a member's values in a period into one score.
type Aggregation string

// Sum adds values up; Best keeps the highest; Latest keeps the most recent
// by occurred_at.
const (
	Sum    Aggregation = "sum"
	Best   Aggregation = "best"
	Latest Aggregation = "latest"
)

// Scope narrows a board to one challenge, contest or quiz: a points board
// then counts only ledger entries paid by it (their keys start with
// "{type}:{id}:"), an event board only events whose "{type}_id" prop is id.
type Scope struct {
	Type string `json:"type" enum:"challenge,contest,quiz"`
	ID   string `json:"id" minLength:"1" maxLength:"64"`
}

// Board is a leaderboard definition.
type Board struct {
	ID          string      `json:"id"`
	Tenant      string      `json:"-"`
	Name        string      `json:"name"`
	Source      Source      `json:"source"`
	EventType   string      `json:"event_type,omitempty" doc:"Event boards: the event type that scores."`
	Prop        string      `json:"prop,omitempty" doc:"Event boards: the integer prop that is the value; without it every event is worth 1."`
	Aggregation Aggregation `json:"aggregation"`
	Window      Window      `json:"window"`
	TimeZone    string      `json:"time_zone" doc:"IANA zone for daily, weekly and monthly periods."`
	StartsAt    *time.Time  `json:"starts_at,omitempty" doc:"Custom window: first instant counted."`
	EndsAt      *time.Time  `json:"ends_at,omitempty" doc:"Custom window: first instant no longer counted."`
	Scope       *Scope      `json:"scope,omitempty"`
	// MaxPerEvent caps what one event adds to an event board (0: no cap),
	// so one forged or mistaken prop cannot top it.
	MaxPerEvent int64 `json:"max_per_event,omitempty" doc:"Event boards: the most one event's value counts for; 0 or absent, no cap."`
	// RetentionDays is how long a finished period stays readable.
	RetentionDays int       `json:"retention_days"`
	CreatedAt     time.Time `json:"created_at"`
	// Build is the state of a points board's first fill from the ledger,
	// which runs in the background; nil for boards that need none.
	Build *Build `json:"build,omitempty" doc:"Points boards: the first fill from the ledger, which runs in the background after the board is created. Reads answer with what is there meanwhile, and say so."`
}

// BuildState is how far a board's first fill is.
type BuildState string

// The states of a build. A failed build is retried (see buildRetry).
const (
	Building BuildState = "building"
	Ready    BuildState = "ready"
	Failed   BuildState = "failed"
)

// Build is a board's first fill from its source, done by one node at a
// time: the node holding the lease (Owner until LeaseUntil), which it
// renews while it works. A build whose lease lapses (its node crashed) is
// taken over by the next node to look, so it always finishes.
type Build struct {
	State BuildState `json:"state" enum:"building,ready,failed"`
	Done  int64      `json:"done" doc:"Ledger entries read so far."`
	Total int64      `json:"total" doc:"Ledger entries to read; 0 until counted."`
	Error string     `json:"error,omitempty" doc:"Why the last attempt failed; it is retried."`
	// Owner is the node building it; LeaseUntil when another may take over.
	Owner      string    `json:"-"`
	LeaseUntil time.Time `json:"-"`
}

// Score is one event's value on an event board, or one ledger entry's on
// a points board (EventID is then the entry's key, see ledgerScore). It is
// unique per (tenant, board, EventID), so a replayed event or credit never
// scores twice; a member's entry is always an aggregate of these rows.
type Score struct {
	Tenant  string
	Board   string
	User    string
	EventID string
	Value   int64
	At      time.Time // the event's occurred_at
	// Period and Aggregation say which total AddScore folds the score
	// into: the member's in that period of the board, by the board's
	// aggregation. Period "" folds nothing (and reads back as "").
	Period      string
	Aggregation Aggregation
}

// Folded is what FoldScore did: Total is the member's total after the
// score's own write when Known; Known is false when the store cannot tell
// (a repeat of the event, a stale board, a store that cannot return it
// from the write itself), and the total must be read.
type Folded struct {
	Inserted, Known bool
	Total           TotalRow
}

// TotalRow is a member's folded entry in one period of a board.
type TotalRow struct {
	Period string
	User   string
	Value  int64
	At     time.Time
}

// Exclusion takes a user off a board and keeps them off: an anti-abuse
// action by a manager, recorded with who did it and why.
type Exclusion struct {
	Tenant string    `json:"-"`
	Board  string    `json:"board_id"`
	User   string    `json:"user_id"`
	By     string    `json:"by" doc:"The manager who removed the user."`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Store keeps board definitions, event-board scores and exclusions.
type Store interface {
	UserData // export and erasure: privacy.go
	// CreateBoard stores b, with its Build if any; an existing (tenant,
	// id) is errs.ErrDuplicate. GetBoard and ListBoards return the Build
	// as last saved.
	CreateBoard(ctx context.Context, b Board) error
	// ClaimBuild makes owner the builder of a board whose build is not
	// Ready and whose lease ended by now, setting State to Building and
	// the lease to until; claimed is false (no error) otherwise, also
	// for a board without a build.
	ClaimBuild(ctx context.Context, tenant, id, owner string, now, until time.Time) (claimed bool, err error)
	// SaveBuild stores b (its State, Done, Total, Error and LeaseUntil) as
	// the board's build if owner still holds it; held is false otherwise.
	// Saving with an empty b.Owner releases the build.
	SaveBuild(ctx context.Context, tenant, id, owner string, b Build) (held bool, err error)
	GetBoard(ctx context.Context, tenant, id string) (Board, error)
	// ExtendBoard moves the EndsAt of a custom-window board to endsAt;
	// errs.ErrNotFound when the tenant has no such board.
	ExtendBoard(ctx context.Context, tenant, id string, endsAt time.Time) error
	// ListBoards returns a tenant's boards in id order.
	ListBoards(ctx context.Context, tenant string) ([]Board, error)
	// Tenants lists every tenant that has a board, for rebuilds.
	Tenants(ctx context.Context) ([]string, error)

	// AddScore stores sc unless the board has a score for that event
	// already; inserted reports which. It folds a new score into the
	// member's total for sc.Period (see Total) in the same write, and
	// never twice for one event.
	AddScore(ctx context.Context, sc Score) (inserted bool, err error)
	// FoldScore is AddScore reporting what the fold did to the member's
	// total, so that a write need not read it back (see Folded).
	FoldScore(ctx context.Context, sc Score) (Folded, error)
	// FoldScores is AddScore for many scores at once, for a build that
	// folds a whole ledger: each score is stored and folded into its
	// total exactly once per (tenant, board, EventID), within the batch
	// (a key given twice counts once) and across calls, as AddScore would.
	// inserted counts the scores that were new. On an error some scores
	// may have been folded; calling it again with the same scores is safe.
	FoldScores(ctx context.Context, scs []Score) (inserted int, err error)
	// Total returns a member's entry in one period of a board as AddScore
	// folded it, equal to AggregateScores over the period's bounds
	// [from, to), in work independent of the member's history. A board
	// whose scores predate totals (or a store that cannot keep totals
	// exact, as on FerretDB) is read with AggregateScores.
	Total(ctx context.Context, tenant, board, period, user string, agg Aggregation, from, to time.Time) (value int64, at time.Time, ok bool, err error)
	// AggregateScores folds a user's scores on a board with At in
	// [from, to): Sum gives the total and the latest At; Best the highest
	// value and the earliest At it was reached; Latest the value with the
	// latest At (the higher value on equal At). ok is false when there are
	// no scores.
	AggregateScores(ctx context.Context, tenant, board, user string, agg Aggregation, from, to time.Time) (value int64, at time.Time, ok bool, err error)
	// ScanScores calls fn for every score of a board, for rebuilds; it stops
	// at the first error fn returns.
	ScanScores(ctx context.Context, tenant, board string, fn func(Score) error) error
	// CountScores counts a board's scores, for progress bars.
	CountScores(ctx context.Context, tenant, board string) (int64, error)
	// ScanTotals calls fn for every member's folded entry (see Total) of
	// every period of a board, for rebuilds, which then need no scores;
	// ok is false, and fn is not called, where the totals are not exact
	// (a stale board, or FerretDB) and the rebuild must read the scores.
	ScanTotals(ctx context.Context, tenant, board string, fn func(TotalRow) error) (ok bool, err error)
	// CountTotals counts what ScanTotals reads, for progress bars (on
	// MongoDB a Sum total is a document per day, each counted); ok as in
	// ScanTotals.
	CountTotals(ctx context.Context, tenant, board string) (n int64, ok bool, err error)
	// PruneScores deletes a board's scores that occurred before `before`,
	// in batches, keeping the totals they were folded into; progress gets
	// the running count. A board whose totals are not exact keeps its
	// scores and reports 0.
	PruneScores(ctx context.Context, tenant, board string, before time.Time, progress func(int64)) (int64, error)

	// Exclude stores e, replacing an earlier exclusion of the same user
	// from the same board.
	Exclude(ctx context.Context, e Exclusion) error
	// Reinstate deletes the exclusion of user from board; errs.ErrNotFound
	// when there is none.
	Reinstate(ctx context.Context, tenant, board, user string) error
	// Exclusions lists a board's exclusions in user order; with board ""
	// every board's of the tenant, in (board, user) order.
	Exclusions(ctx context.Context, tenant, board string) ([]Exclusion, error)

	FeedStore
}
