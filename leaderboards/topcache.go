package leaderboards

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// topCache keeps the pages of board periods that players read through the
// API for a moment, on one node. With a shared engine (Redis) every read
// is a round trip, and the top of a busy board is the same page for every
// player: thousands of reads a second then cost one round trip per ttl.
//
// This node's own writes show at once: every write through the Service
// drops the key's pages, and a read that raced a write does not store what
// it read (see fill). Another node's writes show within ttl. Only the
// public reads use it; contests, live snapshots and analytics read the
// engine itself (Service.Top), so prizes are never paid from a cached page.
type topCache struct {
	ttl  time.Duration
	now  func() time.Time
	seed maphash.Seed

	// writes counts this node's writes per shard of engine keys. A read
	// notes its shard's count before asking the engine and stores its page
	// only if the count has not moved, so a page read before a write
	// cannot be stored after the write dropped the key's pages. Shards
	// keep the counters' memory fixed; two keys sharing one only cost a
	// skipped store.
	writes [topShards]atomic.Uint64

	mu    sync.Mutex
	pages map[string]map[pageRange]cachedPage // engine key -> pages
}

const (
	topShards = 256
	// topCacheKeys bounds the board periods held; past it the cache starts
	// over, which costs one round trip per page read.
	topCacheKeys = 4096
)

type pageRange struct{ offset, limit int }

type cachedPage struct {
	entries []Entry
	total   int64
	until   time.Time
}

func newTopCache(ttl time.Duration, now func() time.Time) *topCache {
	return &topCache{ttl: ttl, now: now, seed: maphash.MakeSeed(), pages: map[string]map[pageRange]cachedPage{}}
}

func (c *topCache) shard(key string) *atomic.Uint64 {
	return &c.writes[maphash.String(c.seed, key)%topShards]
}

// topCount is Engine.TopCount through the cache. The entries returned are
// shared with other readers and must not be modified.
func (c *topCache) topCount(ctx context.Context, e Engine, key string, offset, limit int) ([]Entry, int64, error) {
	r := pageRange{offset, limit}
	now := c.now()
	c.mu.Lock()
	p, ok := c.pages[key][r]
	c.mu.Unlock()
	if ok && now.Before(p.until) {
		return p.entries, p.total, nil
	}
	seen := c.shard(key).Load()
	entries, total, err := e.TopCount(ctx, key, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	c.fill(key, r, seen, cachedPage{entries: entries, total: total, until: now.Add(c.ttl)})
	return entries, total, nil
}

// fill stores p unless this node wrote to key's shard since seen.
func (c *topCache) fill(key string, r pageRange, seen uint64, p cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shard(key).Load() != seen {
		return
	}
	m, ok := c.pages[key]
	if !ok {
		if len(c.pages) >= topCacheKeys {
			clear(c.pages)
		}
		m = map[pageRange]cachedPage{}
		c.pages[key] = m
	}
	m[r] = p
}

// wrote drops key's pages after this node changed the board period. The
// count moves under the lock, so a fill either ran before (and its page is
// dropped here) or sees the new count.
func (c *topCache) wrote(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shard(key).Add(1)
	delete(c.pages, key)
}

// droppingEngine is an Engine whose writes drop the written key's pages
// from a topCache once they are done, whatever their outcome (a failed
// write may still have reached Redis).
type droppingEngine struct {
	Engine
	c *topCache
}

func (d droppingEngine) Raise(ctx context.Context, key, member string, score int64, at time.Time) error {
	defer d.c.wrote(key)
	return d.Engine.Raise(ctx, key, member, score, at)
}

func (d droppingEngine) Put(ctx context.Context, key, member string, score int64, at time.Time) error {
	defer d.c.wrote(key)
	return d.Engine.Put(ctx, key, member, score, at)
}

func (d droppingEngine) Remove(ctx context.Context, key, member string) error {
	defer d.c.wrote(key)
	return d.Engine.Remove(ctx, key, member)
}

func (d droppingEngine) Replace(ctx context.Context, key string, entries []Entry) error {
	defer d.c.wrote(key)
	return d.Engine.Replace(ctx, key, entries)
}

func (d droppingEngine) Expire(ctx context.Context, key string, ttl time.Duration) error {
	defer d.c.wrote(key)
	return d.Engine.Expire(ctx, key, ttl)
}
