package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Entry is one member's place on a board.
type Entry struct {
	Member string `json:"user_id"`
	Score  int64  `json:"score"`
	// At is when the member reached Score (millisecond precision). Among
	// equal scores the earlier achiever ranks first.
	At   time.Time `json:"achieved_at"`
	Rank int64     `json:"rank"` // 1-based; 0 when unknown (e.g. in Replace input)
}

// Engine keeps ranked boards. A key names one board period; callers build keys
// with a Redis hash tag, e.g. "ql:lb:{acme:b1}:all", so everything about one
// board period (and any helper key an engine derives from it by appending a
// suffix) lives in one cluster slot.
//
// Order on every read: Score descending, then At ascending (the earlier
// achiever first), then Member ascending (bytewise). Both engines order ties
// the same way, so a page never shuffles between two reads and an embedded
// deployment ranks exactly like a Redis-backed one.
//
// Scores must lie within ±MaxScore and times within [MinTime, MaxTime]:
// Redis keeps scores as float64, exact only up to 2^53, and the Redis engine
// encodes At as a fixed-width millisecond count. Both engines refuse other
// inputs with ErrScoreRange so they never disagree about an entry.
//
// Two implementations exist, as for every engine seam (DESIGN.md §2–3):
// MemoryEngine for the embedded single-node deployment and RedisEngine for
// many nodes. One conformance suite (engine_test.go) runs against both, and
// against a Redis Cluster, and pins these details beyond the method comments,
// which follow Redis' semantics so that both engines agree:
//
//   - Top with limit <= 0, or an offset past the end, returns an empty page; a
//     negative offset counts as 0. Around with n < 0 counts as 0. Reads
//     return a non-nil slice.
//   - A board that loses its last member (Remove) ceases to exist, and with it
//     any expiry set on it, exactly as a Redis key does.
//   - Replace leaves the board without an expiry; a member listed twice keeps
//     its last entry; an empty entries slice deletes the board.
//   - Expire on a board that does not exist does nothing; a negative ttl
//     deletes the board at once. Writing to a board after it expired starts a
//     new board without an expiry.
type Engine interface {
	// Raise keeps the best entry: it sets member's (score, at) when score is
	// higher than the current score, or equal with an earlier at. It is a
	// join (commutative, idempotent), so replays and concurrent writers of
	// exact totals converge on the same entry. Used for "sum" boards whose
	// totals are read from an exact source, and for "best" boards.
	Raise(ctx context.Context, key, member string, score int64, at time.Time) error
	// Put keeps the latest entry: it sets member's (score, at) when at is
	// later than the current at, or equal with a higher score. Also a join.
	// Used for "latest" boards.
	Put(ctx context.Context, key, member string, score int64, at time.Time) error
	// Top returns up to limit entries starting at offset (0-based), ranked.
	Top(ctx context.Context, key string, offset, limit int) ([]Entry, error)
	// Rank returns member's entry; ok is false when the member is not on the board.
	Rank(ctx context.Context, key, member string) (e Entry, ok bool, err error)
	// Ranks returns the entries of those members that are on the board, in
	// rank order, with their board-wide ranks. One round trip; for friends
	// boards and display joins. Duplicates in members are returned once.
	Ranks(ctx context.Context, key string, members []string) ([]Entry, error)
	// Around returns up to n entries above member, member itself, and up to n below, ranked. Empty (no error) when member is absent.
	Around(ctx context.Context, key, member string, n int) ([]Entry, error)
	// Count returns the number of members on the board.
	Count(ctx context.Context, key string) (int64, error)
	// TopCount is Top and Count in one round trip, for a page of reads
	// that shows the board's size (not atomic with each other).
	TopCount(ctx context.Context, key string, offset, limit int) ([]Entry, int64, error)
	// AroundCount is Around and Count in one round trip.
	AroundCount(ctx context.Context, key, member string, n int) ([]Entry, int64, error)
	// Remove takes member off the board.
	Remove(ctx context.Context, key, member string) error
	// Replace atomically swaps the board's whole content for entries (Rank
	// ignored). Readers see the old board or the new one, never a mix. Used
	// by rebuilds. It does not touch tracking (Track).
	Replace(ctx context.Context, key string, entries []Entry) error
	// Expire makes the board disappear after ttl (0 = keep forever). For finished window periods.
	Expire(ctx context.Context, key string, ttl time.Duration) error
	// Track starts recording the members that Raise, Put and Remove touch on
	// key, until Untrack or for at most ttl (so a crashed rebuild cannot
	// leave it on); ttl must be positive. Tracking again while tracked
	// extends ttl and keeps what was recorded; once ttl lapses, what was
	// recorded is dropped, as by Untrack. Every call is recorded, whether
	// or not it changed the board. A rebuild tracks a key from before it reads its source
	// until after Replace, then re-derives the recorded members: that is
	// how writes that race a rebuild are never lost.
	Track(ctx context.Context, key string, ttl time.Duration) error
	// Tracked returns the members recorded since Track or the previous
	// Tracked call, and clears them; tracking stays on. Order unspecified.
	Tracked(ctx context.Context, key string) ([]string, error)
	// Untrack stops tracking key and drops anything recorded.
	Untrack(ctx context.Context, key string) error
	// Ping checks the engine's backend (for /readyz).
	Ping(ctx context.Context) error
}

// MinTime and MaxTime bound Entry.At: Unix milliseconds 0 through
// 9,999,999,999,999 (year 2286), which both engines store exactly.
var (
	MinTime = time.UnixMilli(0).UTC()
	MaxTime = time.UnixMilli(9_999_999_999_999).UTC()
)

// MaxScore is the largest score magnitude an Engine accepts: 2^53, the range
// in which Redis' float64 scores hold every integer exactly.
const MaxScore int64 = 1 << 53

// ErrScoreRange reports a score outside ±MaxScore or a time outside
// [MinTime, MaxTime].
var ErrScoreRange = errors.New("leaderboards: score outside ±2^53 or time outside 1970..2286")

// checkScore rejects scores that Redis could not store exactly. Both engines
// call it so that neither accepts what the other would corrupt.
func checkScore(op, key string, score int64) error {
	if score > MaxScore || score < -MaxScore {
		return fmt.Errorf("leaderboards: %s %s: %d: %w", op, key, score, ErrScoreRange)
	}
	return nil
}

// pageBounds normalises Top's paging arguments. ok is false when the page is
// empty by construction, so engines need not ask their backend at all.
func pageBounds(offset, limit int) (start, count int, ok bool) {
	if limit <= 0 {
		return 0, 0, false
	}
	if offset < 0 {
		offset = 0
	}
	return offset, limit, true
}
