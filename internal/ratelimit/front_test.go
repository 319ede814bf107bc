package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/internal/redistest"
)

// TestFrontNodes: two nodes, each with its own Front over one Redis,
// admit exactly the shared burst between them under concurrency; denials
// after that cost no Redis call on the node that saw one; once the shared
// bucket refills, both nodes admit again.
func TestFrontNodes(t *testing.T) {
	client := redistest.Client(t)
	shared := &countingLimiter{Limiter: NewRedis(client)}
	nodes := []*Front{NewFront(shared), NewFront(shared)}
	lim := Limit{Rate: 10, Burst: 20, Period: time.Second} // a token every 100ms
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 8 {
		wg.Go(func() {
			for range 25 {
				r, err := nodes[i%2].Allow(context.Background(), "k", lim)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	// Every admission is Redis's, and within the burst plus what refilled
	// meanwhile (on a loaded machine the 200 calls may take a while).
	n := admitted.Load()
	if n != shared.admitted.Load() {
		t.Fatalf("nodes admitted %d, Redis %d", n, shared.admitted.Load())
	}
	if most := int64(lim.Burst) + int64(took/(100*time.Millisecond)) + 1; n < int64(lim.Burst) || n > most {
		t.Fatalf("admitted %d in %s, want %d to %d", n, took, lim.Burst, most)
	}
	if calls := shared.calls.Load(); calls >= 200 {
		t.Fatalf("%d Redis calls for 200 requests over budget: no local denials", calls)
	}
	before := shared.calls.Load()
	r, err := nodes[0].Allow(context.Background(), "k", lim)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed && shared.calls.Load() != before {
		t.Fatal("a locally denied call reached Redis")
	}
	if !r.Allowed && (r.RetryAfter <= 0 || r.RetryAfter > 100*time.Millisecond || r.ResetAfter < r.RetryAfter) {
		t.Fatalf("local denial = %+v", r)
	}
	time.Sleep(250 * time.Millisecond)
	for i, n := range nodes {
		if r, err := n.Allow(context.Background(), "k", lim); err != nil || !r.Allowed {
			t.Fatalf("node %d after the refill: %+v, %v", i, r, err)
		}
	}
}
