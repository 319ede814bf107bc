// Package contests runs time-boxed contests. A leaderboard contest ranks
// its own time-boxed board (any board source) and gives its listed prizes
// to the top N at the close, ties ordered the way the board orders them;
// the final standings are frozen into the contest. A prize draw collects
// entries, earned by events (a visit, a purchase over 20...) or opted
// into, within an entry window, capped per user and limited to eligible
// players, and draws its winners verifiably (package draw): the seed's
// commitment is published when the contest is created, the canonical
// entry list and its hash at the close, and the seed at the draw.
package contests

import (
	"context"
	"time"

	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/leaderboards"
)

// Kind is what decides a contest's winners.
type Kind string

// The kinds of contest.
const (
	LeaderboardKind Kind = "leaderboard"
	DrawKind        Kind = "draw"
)

// Status is a contest's place in its lifecycle. An open contest runs
// between StartsAt and EndsAt; a finished one has its winners.
type Status string

// The statuses.
const (
	Open     Status = "open"
	Finished Status = "finished"
)

// Prize is one line of the prize list: Quantity places, each paid Points,
// a badge and/or described in Description.
type Prize struct {
	Description string `json:"description" minLength:"1" maxLength:"500" doc:"What the winner gets, as players read it."`
	Quantity    int    `json:"quantity" minimum:"1" maximum:"1000" doc:"How many winners get this prize."`
	Points      int64  `json:"points,omitempty" minimum:"0" maximum:"1000000000" doc:"Points paid to each winner of this prize."`
	Badge       string `json:"badge_id,omitempty" maxLength:"64" doc:"A published badge awarded to each winner of this prize."`
	Reward      string `json:"reward_id,omitempty" maxLength:"64" doc:"A catalogue reward each winner redeems without paying points (its code is pushed to the winner and listed in their redemptions). Its stock must cover quantity when the contest is made; if it runs out before the draw, the place records reward_failure out-of-stock and the other parts of the prize are paid."`
}

// EarnRule gives entries for an event: Entries per event of EventType,
// when the event's Prop is above Over (if Prop is given).
type EarnRule struct {
	EventType string  `json:"event_type" minLength:"1" maxLength:"64" doc:"The event that earns entries, e.g. visit or purchase."`
	Prop      string  `json:"prop,omitempty" maxLength:"64" doc:"A numeric prop the event must carry, e.g. amount."`
	Over      float64 `json:"over,omitempty" doc:"With prop: the event earns only when prop is strictly above this, e.g. 20."`
	Entries   int64   `json:"entries,omitempty" minimum:"0" maximum:"100" default:"1" doc:"Entries per matching event."`
}

// Eligibility limits who may enter: one of the tiers and one of the
// segments a brand gave the user (profiles attributes), and, with OptIn,
// only users who opted in (POST /v1/contests/{id}/enter) before earning.
type Eligibility struct {
	Tiers    []string `json:"tiers,omitempty" maxItems:"50"`
	Segments []string `json:"segments,omitempty" maxItems:"50"`
	OptIn    bool     `json:"opt_in,omitempty" doc:"Events earn entries only after the player opted in."`
}

// BoardSpec is what a leaderboard contest's own board ranks; its window is
// the contest's.
type BoardSpec struct {
	Source      leaderboards.Source      `json:"source,omitempty" enum:"points,event" default:"points"`
	EventType   string                   `json:"event_type,omitempty" maxLength:"64"`
	Prop        string                   `json:"prop,omitempty" maxLength:"64"`
	Aggregation leaderboards.Aggregation `json:"aggregation,omitempty" enum:"sum,best,latest" default:"sum"`
	MaxPerEvent int64                    `json:"max_per_event,omitempty" minimum:"0" maximum:"9007199254740992"`
}

// Contest is a contest definition and its state.
type Contest struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Kind        Kind      `json:"kind"`
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at" doc:"The close: entries or scores after it do not count. Moved by extend and force-end."`
	Prizes      []Prize   `json:"prizes"`

	// Leaderboard contests.
	Board   *BoardSpec `json:"board,omitempty"`
	BoardID string     `json:"board_id,omitempty" doc:"Leaderboard contests: the contest's own board, read it at /v1/leaderboards/{board_id}/top."`

	// Prize draws.
	Earn       []EarnRule `json:"earn,omitempty"`
	MaxEntries int64      `json:"max_entries_per_user,omitempty"`
	// PointsPerEntry is the price of a bought ticket; 0: none are sold.
	PointsPerEntry int64        `json:"points_per_entry,omitempty"`
	Eligibility    *Eligibility `json:"eligibility,omitempty"`
	// Commitment is SHA-256(seed), published from the contest's creation;
	// the seed itself is revealed in Result at the draw.
	Commitment string `json:"commitment,omitempty" doc:"Prize draws: hex SHA-256 of the secret seed, fixed when the contest was created."`
	Seed       []byte `json:"-"`

	Status Status  `json:"status"`
	Result *Result `json:"result,omitempty"`
	// Disqualified lists, in order, the winners a manager disqualified.
	Disqualified []Disqualification `json:"disqualified,omitempty"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	Version      int64              `json:"version"`
}

// Places is how many winners the prize list has.
func (c Contest) Places() int {
	n := 0
	for _, p := range c.Prizes {
		n += p.Quantity
	}
	return n
}

// PrizeAt is the index of the prize of a 1-based place.
func (c Contest) PrizeAt(position int) int {
	for i, p := range c.Prizes {
		if position <= p.Quantity {
			return i
		}
		position -= p.Quantity
	}
	return -1
}

// Result is how a contest ended: for a draw, what anyone needs to check
// it; for a leaderboard contest, the frozen standings.
type Result struct {
	ClosedAt time.Time `json:"closed_at"`
	// Draws.
	Algorithm    string `json:"algorithm,omitempty" doc:"The draw algorithm, questline-draw-v1 (docs/draws.md)."`
	Seed         string `json:"seed,omitempty" doc:"The revealed seed, hex; SHA-256 of its bytes is the commitment."`
	EntriesHash  string `json:"entries_hash,omitempty" doc:"Hex SHA-256 of the canonical entry list file, GET /v1/contests/{id}/entries."`
	EntriesCount int64  `json:"entries_count"`
	// Leaderboard contests: the board's top rows at the close, best first.
	Standings []Standing `json:"standings,omitempty"`
	Winners   []Winner   `json:"winners"`
}

// Standing is one frozen row of a leaderboard contest.
type Standing struct {
	Rank  int64  `json:"rank"`
	User  string `json:"user_id"`
	Score int64  `json:"score"`
}

// Winner is one prize place and who holds it.
type Winner struct {
	Position int    `json:"position"`
	Prize    int    `json:"prize" doc:"Index of the prize in prizes."`
	User     string `json:"user_id,omitempty" doc:"Empty when there were fewer eligible entrants than places."`
	Entrant  string `json:"entrant,omitempty" doc:"Prize draws: the winner's handle in the entry list."`
	// Replaced are the disqualified holders of this place, in order.
	Replaced []string   `json:"replaced,omitempty"`
	PaidAt   *time.Time `json:"paid_at,omitempty" doc:"When the prize was paid; absent while the payment is pending."`
	// Redemption is the winner's redemption of the prize's reward.
	Redemption    string `json:"redemption_id,omitempty" doc:"Prizes with a reward: the winner's redemption of it (its code is the winner's own: GET /v1/me/redemptions)."`
	RewardFailure string `json:"reward_failure,omitempty" doc:"Prizes with a reward: why it could not be granted (out-of-stock); the rest of the prize was paid."`
}

// Disqualification is a manager's removal of a winner.
type Disqualification struct {
	User    string    `json:"user_id"`
	Entrant string    `json:"entrant,omitempty" doc:"Prize draws: the user's handle in the entry list."`
	By      string    `json:"by"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Entry is one ticket of a prize draw, unique per (contest, user, N) and
// per (contest, Source): a user's tickets are numbered 1..max, so the
// per-user cap holds under concurrency, and the source (the event and
// rule that earned it) makes earning idempotent. N = 0 records an opt-in,
// which is no ticket.
type Entry struct {
	Tenant  string
	Contest string
	User    string
	// Entrant is the user's public handle in the entry list, kept when
	// the user is erased.
	Entrant string
	N       int64
	Source  string
	At      time.Time
}

// BoughtPrefix starts the source of every ticket bought with points.
const BoughtPrefix = "buy:"

// EntryCounts are a prize draw's entries at a glance.
type EntryCounts struct {
	Entrants int64 // users holding at least one ticket
	Tickets  int64 // every ticket, earned or bought
	Bought   int64 // tickets bought with points
	OptIns   int64 // users who opted in
}

// Ticket is e's line in the entry list.
func (e Entry) Ticket() draw.Ticket { return draw.Ticket{Entrant: e.Entrant, N: e.N} }

// Store keeps contests and their entries.
type Store interface {
	CreateContest(ctx context.Context, c Contest) error
	// UpdateContest replaces c if the stored version is c.Version-1;
	// otherwise an error wrapping errs.ErrDuplicate. The seed is never
	// replaced.
	UpdateContest(ctx context.Context, c Contest) error
	GetContest(ctx context.Context, tenant, id string) (Contest, error)
	// OpenContests lists the open contests of every tenant (the close
	// job's scan; open contests are few, so no index serves it).
	OpenContests(ctx context.Context) ([]Contest, error)
	// ListContests pages a tenant's contests by id; status "" is all.
	ListContests(ctx context.Context, tenant string, status Status, after string, limit int) ([]Contest, error)

	// AddContestEntry stores e. A repeat of (contest, Source) stores
	// nothing and returns inserted=false; a (contest, user, N) another
	// source holds is an error wrapping errs.ErrDuplicate.
	AddContestEntry(ctx context.Context, e Entry) (inserted bool, err error)
	// HasContestEntry reports whether a contest holds an entry of source.
	HasContestEntry(ctx context.Context, tenant, contest, source string) (bool, error)
	// ContestUserEntries counts a user's tickets in a contest and says
	// whether they opted in, in work independent of how many they hold:
	// tickets are numbered densely from 1 (see Entry), so it may answer
	// the highest number.
	ContestUserEntries(ctx context.Context, tenant, contest, user string) (tickets int64, optedIn bool, err error)
	// CountContestEntries counts a contest's tickets.
	CountContestEntries(ctx context.Context, tenant, contest string) (int64, error)
	// ContestEntryCounts counts a contest's tickets, its entrants (users
	// holding ticket 1: tickets are numbered densely from 1), its opt-ins
	// and its bought tickets (sources starting with BoughtPrefix), from
	// its indexes alone.
	ContestEntryCounts(ctx context.Context, tenant, contest string) (EntryCounts, error)
	// ScanContestEntries calls fn for every ticket of a contest in the
	// entry list's canonical order (Entrant, then N), opt-ins left out,
	// with Tenant, Contest, Entrant, N and User set (a draw needs no more).
	ScanContestEntries(ctx context.Context, tenant, contest string, fn func(Entry) error) error
	// UserContestEntries lists a user's entries (opt-ins included) in
	// every contest of the tenant, for exports.
	UserContestEntries(ctx context.Context, tenant, user string) ([]Entry, error)
	// EraseContestUser moves the user's entries to pseudonym; their
	// Entrant stays, so published entry lists still verify.
	EraseContestUser(ctx context.Context, tenant, user, pseudonym string) error
}
