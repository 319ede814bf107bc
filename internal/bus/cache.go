package bus

import (
	"context"
	"sync"
	"time"
)

// Cache is a node-local cache of values by key (a tenant, say) for a
// service whose changes travel on a Bus: Drop forgets a key (on the bus's
// message, or at once on the node that made the change), TTL is the
// safety net for a message the bus lost. A load that raced a Drop is
// returned but not kept, so a change can never be hidden by a read that
// started before it.
type Cache[V any] struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]cacheEntry[V]
	gen     uint64 // counts drops
}

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

// NewCache returns a cache keeping values for ttl, and at most max keys
// (past it, it starts afresh; 0 is no bound).
func NewCache[V any](ttl time.Duration, max int) *Cache[V] {
	return &Cache[V]{ttl: ttl, max: max, entries: map[string]cacheEntry[V]{}}
}

// Get returns key's value, from the cache if it was loaded less than the
// TTL before now, else from load.
func (c *Cache[V]) Get(ctx context.Context, key string, now time.Time, load func(context.Context) (V, error)) (V, error) {
	v, ok, gen := c.Lookup(key, now)
	if ok {
		return v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.Keep(key, v, gen, now)
	return v, nil
}

// Lookup returns key's value if it was kept less than the TTL before now,
// and the generation to hand Keep with what the caller loads instead.
func (c *Cache[V]) Lookup(key string, now time.Time) (v V, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && now.Sub(e.at) >= c.ttl {
		ok = false
	}
	return e.v, ok, c.gen
}

// Keep stores v, loaded at now, for key, unless a Drop came since gen
// (a Lookup's): then v may predate the change and is not kept.
func (c *Cache[V]) Keep(key string, v V, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.max > 0 && len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = cacheEntry[V]{v: v, at: now}
}

// Drop forgets key, or every key for "" (a bus that may have lost
// messages says so).
func (c *Cache[V]) Drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if key == "" {
		clear(c.entries)
	} else {
		delete(c.entries, key)
	}
}
