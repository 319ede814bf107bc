package profiles

import (
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
// cacheKey's.
const busTopic = "profiles"

// cached is what a node knows of one user's profile.
type cached struct {
	p     Profile
	found bool
}

func newCache() *bus.Cache[cached] { return bus.NewCache[cached](cacheTTL, maxCached) }

func cacheKey(tenant, user string) string { return tenant + "|" + user }

// SetBus makes a profile change drop the user's cached profile on every
// node of b at once. Call it before the service is used.
func (s *Service) SetBus(b bus.Bus) {
	s.bus = b
	b.Subscribe(busTopic, s.cache.Drop)
}
