package leaderboards

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// raceEngine runs during after its TopCount has read the board and before
// it returns, as a write landing while a read is on the wire would.
type raceEngine struct {
	Engine
	during func()
}

func (r *raceEngine) TopCount(ctx context.Context, key string, offset, limit int) ([]Entry, int64, error) {
	es, n, err := r.Engine.TopCount(ctx, key, offset, limit)
	if r.during != nil {
		f := r.during
		r.during = nil
		f()
	}
	return es, n, err
}

func TestTopCache(t *testing.T) {
	ctx := context.Background()
	const key = "ql:lb:{acme:b1}:all"
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	type world struct {
		shared *MemoryEngine // the engine every node writes to
		race   *raceEngine
		node   droppingEngine // this node's writes
		clock  *time.Time
		c      *topCache
	}
	topScore := func(t *testing.T, w world) int64 {
		t.Helper()
		es, _, err := w.c.topCount(ctx, w.race, key, 0, 10)
		if err != nil || len(es) == 0 {
			t.Fatalf("top: %v, %v", es, err)
		}
		return es[0].Score
	}
	for _, tc := range []struct {
		name string
		// act changes the board after a first read of 10 (at time at);
		// want is the top score the next read must see, after wait.
		act  func(t *testing.T, w world)
		wait time.Duration
		want int64
	}{
		{"another node's write waits for the ttl", func(t *testing.T, w world) {
			w.shared.Raise(ctx, key, "bob", 20, at)
		}, 99 * time.Millisecond, 10},
		{"another node's write shows after the ttl", func(t *testing.T, w world) {
			w.shared.Raise(ctx, key, "bob", 20, at)
		}, 100 * time.Millisecond, 20},
		{"this node's write shows at once", func(t *testing.T, w world) {
			w.node.Raise(ctx, key, "bob", 20, at)
		}, 0, 20},
		{"this node's remove shows at once", func(t *testing.T, w world) {
			w.shared.Raise(ctx, key, "bob", 20, at)
			topScore(t, w) // still 10 from the cache
			w.node.Remove(ctx, key, "ann")
		}, 0, 20},
		{"this node's replace shows at once", func(t *testing.T, w world) {
			w.node.Replace(ctx, key, []Entry{{Member: "cat", Score: 30, At: at}})
		}, 0, 30},
		{"a read that raced this node's write is not kept", func(t *testing.T, w world) {
			*w.clock = w.clock.Add(time.Second) // the first read's page is out of date
			w.race.during = func() { w.node.Raise(ctx, key, "bob", 20, at) }
			if got := topScore(t, w); got != 10 {
				t.Fatalf("the racing read itself = %d, want the 10 it read", got)
			}
		}, 0, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := at
			shared := NewMemoryEngine()
			c := newTopCache(100*time.Millisecond, func() time.Time { return clock })
			w := world{shared: shared, race: &raceEngine{Engine: shared}, node: droppingEngine{Engine: shared, c: c}, clock: &clock, c: c}
			if err := shared.Raise(ctx, key, "ann", 10, at); err != nil {
				t.Fatal(err)
			}
			if got := topScore(t, w); got != 10 {
				t.Fatalf("first read = %d, want 10", got)
			}
			tc.act(t, w)
			clock = clock.Add(tc.wait)
			if got := topScore(t, w); got != tc.want {
				t.Errorf("top score = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTopCacheBounded(t *testing.T) {
	ctx := context.Background()
	e := NewMemoryEngine()
	c := newTopCache(time.Minute, time.Now)
	for i := range topCacheKeys + 10 {
		if _, _, err := c.topCount(ctx, e, fmt.Sprintf("ql:lb:{acme:b%d}:all", i), 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.pages); n > topCacheKeys {
		t.Errorf("%d board periods cached, want at most %d", n, topCacheKeys)
	}
}

// TestTopUncachedForPrizes: with a page cache, Service.Top (what contests
// pay from) still reads the engine, while the players' read may lag.
func TestTopUncachedForPrizes(t *testing.T) {
	ctx := context.Background()
	shared := NewMemoryEngine()
	s := NewService(Config{Engine: shared, PageTTL: time.Hour})
	b := Board{ID: "b1", Tenant: "acme", Name: "Steps", Source: FromEvents, Window: AllTime, Aggregation: Best}
	_, _, gen := s.cache.Lookup("acme", time.Now())
	s.cache.Keep("acme", tenantBoards{boards: []Board{b}}, gen, time.Now()) // the board, as if read from a store
	_, _, key, err := s.boardPeriod(ctx, "acme", b.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	shared.Raise(ctx, key, "ann", 10, at)
	if pg, err := s.top(ctx, "acme", b.ID, "", 0, 10, true); err != nil || pg.Entries[0].Score != 10 {
		t.Fatalf("players' read: %+v, %v", pg, err)
	}
	shared.Raise(ctx, key, "bob", 20, at) // another node's write
	if pg, err := s.top(ctx, "acme", b.ID, "", 0, 10, true); err != nil || pg.Entries[0].Score != 10 {
		t.Fatalf("players' read within the ttl: %+v, %v; want the cached 10", pg, err)
	}
	if pg, err := s.Top(ctx, "acme", b.ID, "", 0, 10); err != nil || pg.Entries[0].Score != 20 {
		t.Fatalf("Top: %+v, %v; want 20 from the engine", pg, err)
	}
}
