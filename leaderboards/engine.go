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
	Rank   int64  `json:"rank"` // 1-based; 0 when unknown (e.g. in Replace input)
}

// Engine keeps ranked boards. A key names one board period; callers build keys
// with a Redis hash tag, e.g. "ql:lb:{acme:b1}:all", so everything about one
// board period lives in one cluster slot.
//
// Order on every read: Score descending, then Member ascending (bytewise).
// Both engines order ties the same way, so a page never shuffles between two
// reads and an embedded deployment ranks exactly like a Redis-backed one.
//
// Scores must lie within ±MaxScore: Redis keeps scores as float64, which is
// exact only up to 2^53 (and the Redis engine negates scores, which would
// overflow on math.MinInt64). Both engines refuse larger inputs with
// ErrScoreRange so they never disagree about a score.
//
// Two implementations exist, as for every engine seam (DESIGN.md §2–3):
// MemoryEngine for the embedded single-node deployment and RedisEngine for
// many nodes. One conformance suite (engine_test.go) runs against both and
// pins these details beyond the method comments, which follow Redis'
// semantics so that both engines agree:
//
//   - Top with limit <= 0, or an offset past the end, returns an empty page; a
//     negative offset counts as 0. Around with n < 0 counts as 0. Reads
//     return a non-nil slice.
//   - A board that loses its last member (Remove) ceases to exist, and with it
//     any expiry set on it, exactly as a Redis key does.
//   - Replace leaves the board without an expiry; a member listed twice keeps
//     its last score; an empty entries slice deletes the board.
//   - Expire on a board that does not exist does nothing; a negative ttl
//     deletes the board at once. Writing to a board after it expired starts a
//     new board without an expiry.
//   - Incr validates delta, not the resulting sum: a sum past ±MaxScore stays
//     exact in memory but not on Redis.
type Engine interface {
	// Raise sets member's score to score unless its current score is already >= score.
	// Idempotent; concurrent calls leave the maximum offered. Used for scores derived from an exact source (the ledger), so replays are harmless.
	Raise(ctx context.Context, key, member string, score int64) error
	// Incr adds delta to member's score (creating it at 0) and returns the new score.
	Incr(ctx context.Context, key, member string, delta int64) (int64, error)
	// Top returns up to limit entries starting at offset (0-based), ranked.
	Top(ctx context.Context, key string, offset, limit int) ([]Entry, error)
	// Rank returns member's entry; ok is false when the member is not on the board.
	Rank(ctx context.Context, key, member string) (e Entry, ok bool, err error)
	// Around returns up to n entries above member, member itself, and up to n below, ranked. Empty (no error) when member is absent.
	Around(ctx context.Context, key, member string, n int) ([]Entry, error)
	// Count returns the number of members on the board.
	Count(ctx context.Context, key string) (int64, error)
	// Remove takes member off the board.
	Remove(ctx context.Context, key, member string) error
	// Replace atomically swaps the board's whole content for entries (Rank ignored). Readers see the old board or the new one, never a mix. Used by rebuilds.
	Replace(ctx context.Context, key string, entries []Entry) error
	// Expire makes the board disappear after ttl (0 = keep forever). For finished window periods.
	Expire(ctx context.Context, key string, ttl time.Duration) error
	// Ping checks the engine's backend (for /readyz).
	Ping(ctx context.Context) error
}

// MaxScore is the largest score magnitude an Engine accepts: 2^53, the range
// in which Redis' float64 scores hold every integer exactly.
const MaxScore int64 = 1 << 53

// ErrScoreRange reports a score or delta outside ±MaxScore.
var ErrScoreRange = errors.New("leaderboards: score outside ±2^53")

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
