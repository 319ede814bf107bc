package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemorySweepDropsOnlyFullBuckets(t *testing.T) {
	m := newMemory(time.Hour, time.Now)
	defer m.Close()
	ctx := context.Background()
	fast, slow := PerSecond(10, 1), PerMinute(1, 1)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := m.Allow(ctx, k, fast); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Allow(ctx, "d", slow); err != nil {
		t.Fatal(err)
	}
	if left := m.sweep(time.Now()); left != 4 {
		t.Fatalf("%d buckets after an early sweep, want all 4 (none full yet)", left)
	}
	// 200ms on, the 10/s buckets have refilled; the 1/min one has not.
	if left := m.sweep(time.Now().Add(200 * time.Millisecond)); left != 1 {
		t.Fatalf("%d buckets after the fast ones refilled, want 1", left)
	}
	// The survivor still remembers its spent token.
	if r, _ := m.Allow(ctx, "d", slow); r.Allowed {
		t.Fatal("sweep forgot a bucket that was not full")
	}
}

func TestMemoryAllowSkipsEvictedBucket(t *testing.T) {
	m := newMemory(time.Hour, time.Now)
	defer m.Close()
	lim := PerMinute(1, 1)
	held := m.bucket(bucketKey{key: "k", limit: lim}) // as if Allow looked it up...
	m.sweep(time.Now())                               // ...and the janitor dropped it (it was full)
	if !held.evicted {
		t.Fatal("swept bucket not marked evicted")
	}
	if r, _ := m.Allow(context.Background(), "k", lim); !r.Allowed {
		t.Fatal("first event denied")
	}
	if r, _ := m.Allow(context.Background(), "k", lim); r.Allowed {
		t.Fatal("second event allowed: Allow counted on an evicted bucket")
	}
}

func TestMemoryJanitorEvictsAndCloseStopsIt(t *testing.T) {
	m := newMemory(5*time.Millisecond, time.Now)
	if _, err := m.Allow(context.Background(), "k", PerSecond(100, 1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		m.mu.RLock()
		n := len(m.buckets)
		m.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("janitor never evicted the refilled bucket")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
	m.Close() // idempotent
	select {
	case <-m.done:
	default:
		t.Fatal("janitor still running after Close")
	}
	// Allow keeps working after Close.
	if r, err := m.Allow(context.Background(), "k", PerSecond(100, 1)); err != nil || !r.Allowed {
		t.Fatalf("Allow after Close = %+v, %v", r, err)
	}
}
