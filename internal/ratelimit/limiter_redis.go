package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/breaker"
)

// redisKeyPrefix namespaces Questline's rate-limit keys. redis_rate puts its
// own "rate:" in front, so a bucket lives at "rate:ql:rl:<limit>:<key>".
const redisKeyPrefix = "ql:rl:"

// Redis is the Limiter shared by every node: GCRA in one Lua script per call
// (github.com/go-redis/redis_rate/v10), so concurrent calls from any number
// of nodes are admitted exactly. Each bucket is a single Redis key, so it
// works on a Cluster, and the key expires once the bucket has refilled, so
// idle keys cost nothing. Redis is safe for concurrent use.
type Redis struct {
	lim     *redis_rate.Limiter
	breaker *breaker.Breaker
}

// NewRedis returns a Limiter backed by client (standalone, Sentinel or
// Cluster). Its keys are prefixed "ql:rl:"; redis_rate adds its own "rate:"
// in front, so a bucket's key is "rate:ql:rl:<rate>/<period>/<burst>:<key>".
func NewRedis(client redis.UniversalClient) *Redis {
	return &Redis{lim: redis_rate.NewLimiter(client), breaker: breaker.New(time.Second)}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis allow: %w", err)
	}
	// An autopipelining client (cmd/server's) queues a command whatever
	// its context, so a call whose context has already ended is refused
	// here, as a plain client refuses it before taking a connection.
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis allow: %w", err)
	}
	res, err := r.allow(ctx, redisKey(key, l), redis_rate.Limit{
		Rate:   l.Rate,
		Burst:  l.Burst,
		Period: l.Period,
	})
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis allow: %w", err)
	}
	out := Result{
		Allowed:    res.Allowed > 0,
		ResetAfter: max(0, res.ResetAfter),
	}
	if out.Allowed {
		out.Remaining = redisRemaining(out.ResetAfter, l)
	} else {
		// redis_rate reports -1 when allowed; when denied the script's
		// float may round to zero nanoseconds, which must not read as
		// "retry now".
		out.RetryAfter = max(time.Nanosecond, res.RetryAfter)
	}
	return out, nil
}

// redisRemaining derives Remaining from ResetAfter. The script's own count
// truncates a float computed from an epoch-sized timestamp, so an exact 2.0
// can arrive as 1 (1.99999…); here the difference gets Redis's clock
// resolution (1µs) of slack before rounding down.
func redisRemaining(resetAfter time.Duration, l Limit) int {
	full := float64(l.Burst) * float64(l.Period) / float64(l.Rate)
	n := int(math.Floor((full - float64(resetAfter) + float64(time.Microsecond)) / (float64(l.Period) / float64(l.Rate))))
	return min(max(0, n), l.Burst)
}

// redisKey names the bucket for (key, l). The limit is part of the name so
// that, as in Memory, one key under two limits is two buckets: GCRA state
// (a theoretical arrival time) is meaningless under a different limit. The
// caller's key goes last, so a key holding ':' cannot collide with another.
func redisKey(key string, l Limit) string {
	return redisKeyPrefix + strconv.Itoa(l.Rate) + "/" + l.Period.String() + "/" + strconv.Itoa(l.Burst) + ":" + key
}

// allow asks redis_rate, returning when ctx ends even if Redis has not
// answered: a command the autopipeliner has queued is not abandoned at its
// context's deadline (only the client's read timeout ends it), so without
// this a hung Redis would hold every request that long instead of the
// caller's bound (the middleware's 250 ms). After a timeout the breaker
// skips Redis for a second between probes, so requests fail open at once.
func (r *Redis) allow(ctx context.Context, key string, l redis_rate.Limit) (*redis_rate.Result, error) {
	return breaker.Call(ctx, r.breaker, func(ctx context.Context) (*redis_rate.Result, error) {
		return r.lim.Allow(ctx, key, l)
	})
}
