// Package ratelimit decides whether one more event under a key fits a
// limit, and limits HTTP requests with it.
//
// The engine seam is the Limiter interface, with two implementations side by
// side: Memory (golang.org/x/time/rate, one process) and Redis
// (github.com/go-redis/redis_rate/v10, GCRA shared by every node, Cluster
// safe). Both pass the same conformance table. Middleware puts a Limiter in
// front of Fiber handlers.
//
// A bucket is identified by the pair (key, Limit): the same key used with two
// different limits counts against two independent buckets, in both
// implementations, so changing a configured limit starts a fresh bucket.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limit allows Rate events per Period with bursts up to Burst (GCRA / token
// bucket): a full bucket admits Burst events at once, then one more every
// Period/Rate.
type Limit struct {
	Rate   int           // events per Period, > 0
	Burst  int           // bucket size: events admitted at once, > 0
	Period time.Duration // > 0
}

// PerSecond returns a limit of rate events per second with bursts up to burst.
func PerSecond(rate, burst int) Limit {
	return Limit{Rate: rate, Burst: burst, Period: time.Second}
}

// PerMinute returns a limit of rate events per minute with bursts up to burst.
func PerMinute(rate, burst int) Limit {
	return Limit{Rate: rate, Burst: burst, Period: time.Minute}
}

// String describes the limit, e.g. "10/s burst 20" or "5/2h0m0s burst 5".
func (l Limit) String() string {
	per := l.Period.String()
	switch l.Period {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "min"
	case time.Hour:
		per = "h"
	}
	return fmt.Sprintf("%d/%s burst %d", l.Rate, per, l.Burst)
}

// ErrInvalidLimit is wrapped by Allow when the Limit has a non-positive Rate,
// Burst or Period.
var ErrInvalidLimit = errors.New("invalid limit")

func (l Limit) validate() error {
	if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 {
		return fmt.Errorf("%w: %s (rate, burst and period must be positive)", ErrInvalidLimit, l)
	}
	return nil
}

// tokensDuration is how long t tokens take to refill, rounded up to the
// nanosecond so that a positive shortfall never reads as zero.
func (l Limit) tokensDuration(t float64) time.Duration {
	if t <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(t * float64(l.Period) / float64(l.Rate)))
}

// Result of one Allow.
type Result struct {
	// Allowed reports whether the event fits the limit (and was counted).
	Allowed bool
	// Remaining is how many more events the bucket would admit right now.
	Remaining int
	// RetryAfter is how long to wait before the next event can be allowed;
	// positive when Allowed is false, zero otherwise.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again (Remaining ==
	// Burst) if no further events arrive.
	ResetAfter time.Duration
}

// Limiter decides whether one more event under key fits the limit. An
// implementation is safe for concurrent use, and an admitted event is counted
// before Allow returns.
type Limiter interface {
	// Allow counts one event under (key, l) if it fits and reports the
	// bucket's state. An error means the decision could not be made (the
	// store is unreachable, the context ended, the limit is invalid).
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}
