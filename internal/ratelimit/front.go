package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Front is a per-node layer in front of a shared Limiter (Redis): once the
// shared bucket has denied a key, Front denies it on this node until that
// denial's RetryAfter has passed, without a round trip. A client far over
// its budget (a flood, a retry loop) then costs a map lookup instead of a
// Lua script per request.
//
// Front never admits by itself: every admission is the shared limiter's,
// so the shared budget holds exactly however many nodes there are. Its
// local denials are exact as well: a GCRA bucket that denies with
// RetryAfter d admits nothing under that key, from any node, before d has
// passed (tokens only come back with time), and the block starts from the
// node's clock before the call, so it ends no later than the shared
// bucket's. Within budget every call goes to the shared limiter. Front is
// safe for concurrent use.
type Front struct {
	shared Limiter
	denied *blocklist[bucketKey]
	now    func() time.Time
}

// NewFront returns shared behind a per-node layer of remembered denials.
func NewFront(shared Limiter) *Front {
	return &Front{shared: shared, denied: newBlocklist[bucketKey](maxBlocked), now: time.Now}
}

// Allow implements Limiter.
func (f *Front) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: front allow: %w", err)
	}
	bk := bucketKey{key: key, limit: l}
	now := f.now()
	if left, ok := f.denied.blocked(bk, now); ok {
		// When the next token arrives the bucket holds one: full Burst-1
		// tokens later.
		return Result{RetryAfter: left, ResetAfter: left + l.tokensDuration(float64(l.Burst-1))}, nil
	}
	res, err := f.shared.Allow(ctx, key, l)
	if err != nil {
		return Result{}, err
	}
	if !res.Allowed {
		bk.key = strings.Clone(bk.key) // kept: a copy, not a request buffer's bytes
		f.denied.block(bk, now.Add(res.RetryAfter), now)
	}
	return res, nil
}
