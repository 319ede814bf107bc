package leaderboards_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/redistest"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// TestFeedAfterOutage: with Redis killed, credits and scored events still
// succeed and their board refreshes wait, one per board entry however many
// writes missed it; reads say the engine is unavailable; once Redis is
// back (empty) the feeder brings every entry to its exact source value.
func TestFeedAfterOutage(t *testing.T) {
	r := redistest.StartOutage(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialerRetries: 1, MaxRetries: 1})
	t.Cleanup(func() { c.Close() })
	w := newWorld(t, leaderboards.NewRedisEngine(c))
	ctx := context.Background()
	pts, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Points"})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Steps",
		Source: leaderboards.FromEvents, EventType: "checkin", Prop: "steps"})
	if err != nil {
		t.Fatal(err)
	}

	r.Kill()
	for _, cr := range []points.Credit{
		{Tenant: "acme", User: "alice", Amount: 10, Key: "k1"},
		{Tenant: "acme", User: "alice", Amount: 5, Key: "k2"},
		{Tenant: "acme", User: "bob", Amount: 7, Key: "k3"},
	} {
		if _, _, err := w.points.Credit(ctx, cr); err != nil {
			t.Fatalf("credit %s during the outage: %v", cr.Key, err)
		}
	}
	ev := events.Event{ID: "e1", Tenant: "acme", User: "alice", Type: "checkin",
		Props: map[string]any{"steps": float64(1200)}, OccurredAt: *w.now.Load(), ReceivedAt: *w.now.Load()}
	if _, err := w.boards.HandleEvent(ctx, ev, nil); err != nil {
		t.Fatalf("scored event during the outage: %v", err)
	}
	if _, err := w.boards.Top(ctx, "acme", pts.ID, "", 0, 10); errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("top during the outage: %v, want unavailable", err)
	}
	if _, err := w.boards.Feed(ctx); err == nil {
		t.Fatal("feed succeeded with Redis down")
	}
	if n, lag := w.boards.FeedBacklog(); n != 3 || lag < 0 {
		t.Fatalf("backlog %d (lag %v), want 3: alice and bob on points, alice on steps", n, lag)
	}

	r.Start()
	w.setNow(w.now.Load().Add(time.Minute)) // past the failed feed's lease
	if n, err := w.boards.Feed(ctx); err != nil || n != 3 {
		t.Fatalf("feed after the outage ran %d, %v; want 3", n, err)
	}
	want := map[string]map[string]int64{pts.ID: {"alice": 15, "bob": 7}, steps.ID: {"alice": 1200}}
	for board, scores := range want {
		pg, err := w.boards.Top(ctx, "acme", board, "", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, e := range pg.Entries {
			got[e.Member] = e.Score
		}
		if len(got) != len(scores) {
			t.Fatalf("board %s = %v, want %v", board, got, scores)
		}
		for u, s := range scores {
			if got[u] != s {
				t.Fatalf("board %s = %v, want %v", board, got, scores)
			}
		}
	}
	if n, lag := w.boards.FeedBacklog(); n != 0 || lag != 0 {
		t.Fatalf("backlog after catching up: %d, %v", n, lag)
	}
	if n, err := w.boards.Feed(ctx); err != nil || n != 0 {
		t.Fatalf("second feed ran %d, %v", n, err)
	}
}
