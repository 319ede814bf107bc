package profiles

import (
	"sync"
	"time"

	"github.com/questline/questline/internal/bus"
)

// Leaderboard pages join display names on every read, and most players
// never set a profile: without a cache each top-100 read costs a query
// that finds nothing. The node keeps what it read (a profile, or that
// there is none) and drops a user's entry on every node when the profile
// changes, through the bus.

// cacheTTL is the safety net for an invalidation the bus lost.
const cacheTTL = 30 * time.Second

// maxCached bounds the cache's memory: past it, the cache starts afresh.
const maxCached = 100_000

// busTopic names the profiles' invalidations on the bus; keys are
// tenant + "|" + user.
const busTopic = "profiles"

type cached struct {
	p     Profile
	found bool
	at    time.Time
}

// cache is a node's view of profiles it read.
type cache struct {
	mu      sync.Mutex
	entries map[string]cached
	gen     uint64 // counts invalidations: a read older than one is not kept
}

func cacheKey(tenant, user string) string { return tenant + "|" + user }

// lookup splits users into the profiles cached (found ones only) and the
// users still to read, and returns the generation the read starts at.
func (c *cache) lookup(tenant string, users []string, now time.Time) (hits []Profile, misses []string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range users {
		e, ok := c.entries[cacheKey(tenant, u)]
		switch {
		case !ok || now.Sub(e.at) >= cacheTTL:
			misses = append(misses, u)
		case e.found:
			hits = append(hits, e.p)
		}
	}
	return hits, misses, c.gen
}

// fill keeps what a read of users found, unless an invalidation came
// since gen.
func (c *cache) fill(tenant string, users []string, found []Profile, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.entries == nil || len(c.entries)+len(users) > maxCached {
		c.entries = map[string]cached{}
	}
	for _, u := range users {
		c.entries[cacheKey(tenant, u)] = cached{at: now}
	}
	for _, p := range found {
		c.entries[cacheKey(tenant, p.User)] = cached{p: p, found: true, at: now}
	}
}

// drop forgets one entry (key from cacheKey), or every entry for "".
func (c *cache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if key == "" {
		clear(c.entries)
	} else {
		delete(c.entries, key)
	}
}

// SetBus makes a profile change drop the user's cached profile on every
// node of b at once. Call it before the service is used.
func (s *Service) SetBus(b bus.Bus) {
	s.bus = b
	b.Subscribe(busTopic, s.cache.drop)
}
