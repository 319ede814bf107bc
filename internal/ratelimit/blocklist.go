package ratelimit

import (
	"sync"
	"time"
)

// blocklist remembers keys refused until a time, per node, in bounded
// memory: past max entries the expired ones are dropped, and if none had
// expired, all of them (forgetting a block only costs a later call to the
// limiter, never an extra admission). It is safe for concurrent use.
type blocklist[K comparable] struct {
	max   int
	mu    sync.RWMutex // reads (every request) far outnumber blocks
	until map[K]time.Time
}

func newBlocklist[K comparable](max int) *blocklist[K] {
	return &blocklist[K]{max: max, until: map[K]time.Time{}}
}

// blocked reports whether k is refused at now, and for how much longer.
func (b *blocklist[K]) blocked(k K, now time.Time) (time.Duration, bool) {
	b.mu.RLock()
	until, ok := b.until[k]
	b.mu.RUnlock()
	if !ok || !now.Before(until) {
		return 0, false
	}
	return until.Sub(now), true
}

// block refuses k until until.
func (b *blocklist[K]) block(k K, until, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.until) >= b.max {
		for k, u := range b.until {
			if !now.Before(u) {
				delete(b.until, k)
			}
		}
		if len(b.until) >= b.max {
			clear(b.until)
		}
	}
	b.until[k] = until
}

// size is the number of entries held.
func (b *blocklist[K]) size() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.until)
}
