// Package breaker keeps a server from waiting, request after request, on a
// backend that has stopped answering. After a call times out, calls are
// refused at once for a cooldown; then one call at a time goes through as
// a probe, and the first that does not time out lets everyone through
// again. Only timeouts trip it: a backend that refuses connections fails
// fast by itself, and an error reply is an answer.
package breaker

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// ErrOpen is the error of a call the breaker refused.
var ErrOpen = errors.New("backend not answering; call skipped")

// Breaker is a circuit breaker safe for concurrent use. Its zero value is
// not usable: call New.
type Breaker struct {
	cooldown time.Duration
	now      func() time.Time
	// until is the Unix nanosecond before which calls are refused; 0 while
	// the backend answers. A probe moves it one cooldown ahead, so only one
	// caller per cooldown probes.
	until atomic.Int64
}

// New returns a closed breaker that, once tripped, refuses calls for
// cooldown between probes.
func New(cooldown time.Duration) *Breaker {
	return &Breaker{cooldown: cooldown, now: time.Now}
}

// Allow reports whether a call may go to the backend. The caller must
// report its outcome with Done.
func (b *Breaker) Allow() bool {
	until := b.until.Load()
	if until == 0 {
		return true
	}
	now := b.now().UnixNano()
	return now >= until && b.until.CompareAndSwap(until, now+b.cooldown.Nanoseconds())
}

// Done records the outcome of an allowed call and reports whether it
// opened a closed breaker (the moment worth a log line: while the backend
// hangs, probes that fail again report false).
func (b *Breaker) Done(err error) (opened bool) {
	switch {
	case err == nil:
		if b.until.Load() != 0 {
			b.until.Store(0)
		}
	case TimedOut(err):
		return b.until.Swap(b.now().Add(b.cooldown).UnixNano()) == 0
	}
	return false
}

// Call runs f if b allows it and returns when f does or ctx ends,
// whichever is first, recording the outcome in b. A call that outlives
// ctx goes on in its goroutine and its answer is dropped: some clients
// (go-redis' autopipeliner) do not abandon a queued command at its
// context's deadline, and the caller must not wait for them.
func Call[T any](ctx context.Context, b *Breaker, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if !b.Allow() {
		return zero, ErrOpen
	}
	if ctx.Done() == nil { // nothing can end the wait early
		v, err := f(ctx)
		b.Done(err)
		return v, err
	}
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := f(ctx)
		done <- answer{v, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		a.err = ctx.Err()
	}
	b.Done(a.err)
	return a.v, a.err
}

// TimedOut reports whether err is a deadline or a network timeout.
func TimedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
