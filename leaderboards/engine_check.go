package leaderboards

import (
	"fmt"
	"time"
)

// checkEntry rejects what either engine could not store exactly (see
// checkScore) and returns at in Unix milliseconds, the precision both
// engines keep; a finer time is truncated. Both engines call it first, so
// they refuse exactly the same inputs.
func checkEntry(op, key string, score int64, at time.Time) (int64, error) {
	if err := checkScore(op, key, score); err != nil {
		return 0, err
	}
	if at.Before(MinTime) || at.After(MaxTime) {
		return 0, fmt.Errorf("leaderboards: %s %s: time %s: %w", op, key, at.Format(time.RFC3339Nano), ErrScoreRange)
	}
	return at.UnixMilli(), nil
}

// msTime turns stored milliseconds back into an Entry time. Always UTC, so
// both engines return identical values for identical entries.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// checkTrackTTL rejects a tracking ttl that would end tracking before it
// began: a rebuild that asked for it would silently lose racing writes.
func checkTrackTTL(key string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("leaderboards: track %s: ttl %v is not positive", key, ttl)
	}
	return nil
}
