package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// defaultSweepEvery is how often the janitor drops full buckets.
const defaultSweepEvery = time.Minute

// Memory is the in-process Limiter: one golang.org/x/time/rate limiter per
// (key, limit). It is for the single-node embedded deployment; several nodes
// each with a Memory would each admit the full limit.
//
// Memory stays bounded: a janitor goroutine, stopped by Close, periodically
// drops every bucket that has refilled to Burst. Dropping a full bucket loses
// nothing, because a new bucket starts full, so eviction never lets an extra
// event through; the map only holds keys that were active within one refill
// time. Memory is safe for concurrent use.
type Memory struct {
	mu      sync.RWMutex
	buckets map[bucketKey]*bucket

	now       func() time.Time
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type bucketKey struct {
	key   string
	limit Limit
}

type bucket struct {
	// mu makes "take a token, then read what is left" one step, so the
	// Remaining and RetryAfter reported match the decision, and guards
	// evicted.
	mu      sync.Mutex
	lim     *rate.Limiter
	limit   Limit
	evicted bool // set by the janitor; a holder must look the key up again
}

// NewMemory returns an in-process Limiter and starts its janitor. Call Close
// when done with it.
func NewMemory() *Memory {
	return newMemory(defaultSweepEvery, time.Now)
}

func newMemory(sweepEvery time.Duration, now func() time.Time) *Memory {
	m := &Memory{
		buckets: make(map[bucketKey]*bucket),
		now:     now,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go m.janitor(sweepEvery)
	return m
}

// Close stops the janitor. It is safe to call more than once; Allow keeps
// working afterwards, but full buckets are no longer evicted.
func (m *Memory) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
	})
}

// Allow implements Limiter.
func (m *Memory) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: memory allow: %w", err)
	}
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: memory allow: %w", err)
	}
	bk := bucketKey{key: key, limit: l}
	for {
		b := m.bucket(bk)
		b.mu.Lock()
		if b.evicted {
			// The janitor dropped it between lookup and lock; counting on
			// the orphan would be forgotten, so use the live one.
			b.mu.Unlock()
			continue
		}
		now := m.now()
		ok := b.lim.AllowN(now, 1)
		tokens := b.lim.TokensAt(now)
		b.mu.Unlock()
		return memoryResult(ok, tokens, l), nil
	}
}

func memoryResult(ok bool, tokens float64, l Limit) Result {
	r := Result{
		Allowed:    ok,
		Remaining:  max(0, int(math.Floor(tokens))),
		ResetAfter: l.tokensDuration(float64(l.Burst) - tokens),
	}
	if !ok {
		r.RetryAfter = max(time.Nanosecond, l.tokensDuration(1-tokens))
	}
	return r
}

// bucket returns the live bucket for bk, creating a full one if needed.
func (m *Memory) bucket(bk bucketKey) *bucket {
	m.mu.RLock()
	b, ok := m.buckets[bk]
	m.mu.RUnlock()
	if ok {
		return b
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.buckets[bk]; ok {
		return b
	}
	every := bk.limit.Period / time.Duration(bk.limit.Rate)
	b = &bucket{lim: rate.NewLimiter(rate.Every(every), bk.limit.Burst), limit: bk.limit}
	// The key kept in the map is a copy: a caller's may point into a
	// request buffer that fasthttp reuses.
	bk.key = strings.Clone(bk.key)
	m.buckets[bk] = b
	return b
}

func (m *Memory) janitor(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep(m.now())
		}
	}
}

// sweep drops every bucket that is full at now and reports how many remain.
func (m *Memory) sweep(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for bk, b := range m.buckets {
		b.mu.Lock()
		if b.lim.TokensAt(now) >= float64(b.limit.Burst) {
			b.evicted = true
			delete(m.buckets, bk)
		}
		b.mu.Unlock()
	}
	return len(m.buckets)
}
