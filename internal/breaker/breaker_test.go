package breaker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest() (*Breaker, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	b := New(time.Second)
	b.now = c.now
	return b, c
}

func TestBreaker(t *testing.T) {
	timeout := fmt.Errorf("publish: %w", os.ErrDeadlineExceeded) // a net.Error with Timeout
	steps := []struct {
		name    string
		advance time.Duration
		allowed bool
		result  error // reported with Done when allowed
		opened  bool  // what Done reports
	}{
		{"closed", 0, true, nil, false},
		{"an error reply does not trip it", 0, true, errors.New("ERR wrong type"), false},
		{"still closed; a timeout opens it", 0, true, timeout, true},
		{"open after a timeout", 0, false, nil, false},
		{"open within the cooldown", 999 * time.Millisecond, false, nil, false},
		{"a probe after the cooldown fails", time.Millisecond, true, context.DeadlineExceeded, false},
		{"open again after a failed probe", 500 * time.Millisecond, false, nil, false},
		{"the next probe", 500 * time.Millisecond, true, nil, false},
		{"closed after a probe answered", 0, true, nil, false},
		{"and stays closed", 0, true, timeout, true},
	}
	b, c := newTest()
	for _, s := range steps {
		c.t = c.t.Add(s.advance)
		if got := b.Allow(); got != s.allowed {
			t.Fatalf("%s: Allow() = %v, want %v", s.name, got, s.allowed)
		}
		if s.allowed {
			if opened := b.Done(s.result); opened != s.opened {
				t.Fatalf("%s: Done() opened = %v, want %v", s.name, opened, s.opened)
			}
		}
	}
}

// TestOneProbeAtATime: when the cooldown ends, of many concurrent callers
// exactly one is let through until it reports.
func TestOneProbeAtATime(t *testing.T) {
	b, c := newTest()
	b.Allow()
	b.Done(context.DeadlineExceeded)
	c.t = c.t.Add(2 * time.Second)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if b.Allow() {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 1 {
		t.Fatalf("%d callers probed, want 1", n)
	}
}

func TestTimedOut(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{os.ErrDeadlineExceeded, true},
		{context.Canceled, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := TimedOut(tc.err); got != tc.want {
			t.Errorf("TimedOut(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestCall: a call that outlives its context returns at the deadline and
// trips the breaker, so the next call is refused without running.
func TestCall(t *testing.T) {
	b := New(time.Hour)
	v, err := Call(context.Background(), b, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("a plain call = %d, %v", v, err)
	}
	hang := make(chan struct{})
	defer close(hang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Call(ctx, b, func(context.Context) (int, error) { <-hang; return 0, nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("a hung call = %v after %v, want DeadlineExceeded at about 50ms", err, time.Since(start))
	}
	ran := false
	if _, err = Call(context.Background(), b, func(context.Context) (int, error) { ran = true; return 0, nil }); !errors.Is(err, ErrOpen) || ran {
		t.Fatalf("after a timeout: %v (ran %v), want ErrOpen without running", err, ran)
	}
}
