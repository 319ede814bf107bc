package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/internal/redistest"
)

// implementations lists every Limiter; each conformance case runs against
// each. Memory always runs; Redis runs whenever redistest can find or start
// a server (and must, under CI=true).
var implementations = []struct {
	name string
	new  func(t *testing.T) Limiter
}{
	{"memory", func(t *testing.T) Limiter {
		m := NewMemory()
		t.Cleanup(m.Close)
		return m
	}},
	{"redis", func(t *testing.T) Limiter { return NewRedis(redistest.Client(t)) }},
	{"front+redis", func(t *testing.T) Limiter { return NewFront(NewRedis(redistest.Client(t))) }},
	// The server's client: go-redis' autopipeliner, which sends the calls
	// of concurrent requests in one pipeline.
	{"redis autopipelined", func(t *testing.T) Limiter {
		ap, err := redistest.Client(t).AutoPipeline()
		if err != nil {
			t.Fatal(err)
		}
		return NewFront(NewRedis(ap))
	}},
}

// conformance is the one table both implementations must pass. Each case gets
// a fresh limiter (a flushed Redis database for Redis).
var conformance = []struct {
	name string
	run  func(t *testing.T, l Limiter)
}{
	{"fresh bucket reports burst minus one", func(t *testing.T, l Limiter) {
		r := allow(t, l, "fresh", PerMinute(60, 5))
		if !r.Allowed || r.Remaining != 4 || r.RetryAfter != 0 {
			t.Fatalf("first = %+v, want allowed, Remaining 4, RetryAfter 0", r)
		}
		// One event taken: the bucket is full again one interval (1s) later.
		if r.ResetAfter <= 900*time.Millisecond || r.ResetAfter > time.Second {
			t.Fatalf("ResetAfter = %v, want about 1s", r.ResetAfter)
		}
	}},
	{"burst allowed then denied", func(t *testing.T, l Limiter) {
		lim := PerMinute(60, 5)
		for i := range 5 {
			r := allow(t, l, "burst", lim)
			if !r.Allowed || r.Remaining != 4-i {
				t.Fatalf("event %d = %+v, want allowed with Remaining %d", i, r, 4-i)
			}
		}
		for i := range 3 {
			if r := allow(t, l, "burst", lim); r.Allowed || r.Remaining != 0 {
				t.Fatalf("over-burst event %d = %+v, want denied with Remaining 0", i, r)
			}
		}
	}},
	{"denied reports RetryAfter", func(t *testing.T, l Limiter) {
		lim := PerMinute(60, 2) // one token a second
		allow(t, l, "retry", lim)
		allow(t, l, "retry", lim)
		r := allow(t, l, "retry", lim)
		if r.Allowed {
			t.Fatal("third event allowed over a burst of 2")
		}
		if r.RetryAfter <= 0 || r.RetryAfter > time.Second {
			t.Fatalf("RetryAfter = %v, want in (0, 1s]", r.RetryAfter)
		}
		if r.ResetAfter < r.RetryAfter || r.ResetAfter > 2*time.Second {
			t.Fatalf("ResetAfter = %v, want in [RetryAfter, 2s]", r.ResetAfter)
		}
	}},
	{"refills after waiting", func(t *testing.T, l Limiter) {
		lim := PerSecond(10, 1) // one token per 100ms
		if r := allow(t, l, "refill", lim); !r.Allowed {
			t.Fatal("first event denied")
		}
		r := allow(t, l, "refill", lim)
		if r.Allowed {
			t.Fatal("second event allowed at once")
		}
		if r.RetryAfter <= 0 || r.RetryAfter > 100*time.Millisecond {
			t.Fatalf("RetryAfter = %v, want in (0, 100ms]", r.RetryAfter)
		}
		time.Sleep(150 * time.Millisecond)
		if r := allow(t, l, "refill", lim); !r.Allowed {
			t.Fatalf("denied after refill: %+v", r)
		}
	}},
	{"keys are independent", func(t *testing.T, l Limiter) {
		lim := PerMinute(1, 1)
		for _, k := range []string{"user:1", "user:2", "user:3"} {
			if r := allow(t, l, k, lim); !r.Allowed {
				t.Fatalf("%s denied on its first event", k)
			}
		}
		if r := allow(t, l, "user:1", lim); r.Allowed {
			t.Fatal("user:1 allowed twice under a burst of 1")
		}
		if r := allow(t, l, "user:4", lim); !r.Allowed {
			t.Fatal("user:4 denied after user:1 ran out")
		}
	}},
	{"different limits on different keys", func(t *testing.T, l Limiter) {
		slow, fast := PerMinute(1, 1), PerSecond(100, 3)
		allow(t, l, "slow", slow)
		if r := allow(t, l, "slow", slow); r.Allowed {
			t.Fatal("slow key allowed twice under a burst of 1")
		}
		for i := range 3 {
			if r := allow(t, l, "fast", fast); !r.Allowed || r.Remaining != 2-i {
				t.Fatalf("fast event %d = %+v, want allowed with Remaining %d", i, r, 2-i)
			}
		}
		if r := allow(t, l, "fast", fast); r.Allowed {
			t.Fatal("fast key allowed over its burst of 3")
		}
	}},
	{"same key under two limits is two buckets", func(t *testing.T, l Limiter) {
		a, b := PerMinute(1, 1), PerMinute(2, 1)
		allow(t, l, "shared", a)
		if r := allow(t, l, "shared", a); r.Allowed {
			t.Fatal("allowed twice under a burst of 1")
		}
		if r := allow(t, l, "shared", b); !r.Allowed {
			t.Fatal("the other limit's bucket was charged")
		}
	}},
	{"concurrent callers get exactly the burst", func(t *testing.T, l Limiter) {
		// No tolerance: one token refills per minute, far longer than the
		// test, and both implementations decide each event atomically
		// (Memory under the bucket's mutex, Redis in one Lua script), so
		// exactly Burst of the 50 can fit.
		lim := PerMinute(1, 20)
		var allowed, denied atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		errc := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				<-start
				r, err := l.Allow(context.Background(), "crowd", lim)
				switch {
				case err != nil:
					errc <- err
				case r.Allowed:
					allowed.Add(1)
				default:
					denied.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatalf("Allow: %v", err)
		}
		if allowed.Load() != 20 || denied.Load() != 30 {
			t.Fatalf("allowed %d, denied %d of 50; want exactly 20 and 30", allowed.Load(), denied.Load())
		}
	}},
	{"invalid limit is an error", func(t *testing.T, l Limiter) {
		for _, lim := range []Limit{{}, PerSecond(0, 1), PerSecond(1, 0), {Rate: 1, Burst: 1}, PerMinute(-1, 1)} {
			if _, err := l.Allow(context.Background(), "bad", lim); !errors.Is(err, ErrInvalidLimit) {
				t.Errorf("Allow(%v) error = %v, want ErrInvalidLimit", lim, err)
			}
		}
	}},
	{"cancelled context is an error", func(t *testing.T, l Limiter) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.Allow(ctx, "ctx", PerSecond(1, 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	}},
}

func TestConformance(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, impl.new(t)) })
			}
		})
	}
}

// allow is l.Allow with a test failure for an error.
func allow(t *testing.T, l Limiter, key string, lim Limit) Result {
	t.Helper()
	r, err := l.Allow(context.Background(), key, lim)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, lim, err)
	}
	return r
}

func TestLimitString(t *testing.T) {
	for lim, want := range map[Limit]string{
		PerSecond(10, 20):                          "10/s burst 20",
		PerMinute(60, 5):                           "60/min burst 5",
		{Rate: 5, Burst: 5, Period: time.Hour}:     "5/h burst 5",
		{Rate: 1, Burst: 2, Period: 2 * time.Hour}: "1/2h0m0s burst 2",
	} {
		if got := fmt.Sprint(lim); got != want {
			t.Errorf("%#v.String() = %q, want %q", lim, got, want)
		}
	}
}
