// Package bus tells every node of a deployment that something it may hold
// in a node-local cache changed: a tenant's challenge, badge or board
// definitions, a user's profile. A node that wrote the change drops its own
// copy at once; the others hear of it through the bus within milliseconds,
// and their caches' short TTLs stay as the safety net for a message the bus
// lost (a Redis outage, a reconnect).
//
// Two implementations: Memory for a single node, Redis pub/sub for many.
package bus

import (
	"context"
	"sync"
)

// Bus carries invalidations. Topics name a kind of cache ("challenges");
// keys name the entry (a tenant, or tenant and user).
type Bus interface {
	// Publish tells every node, this one included, that key of topic
	// changed. It never fails the caller's write: a message that cannot
	// be sent is logged, and the receivers' TTLs bound the staleness.
	Publish(ctx context.Context, topic, key string)
	// Subscribe calls fn with the key of every change published on topic,
	// and with "" when changes may have been missed (after a reconnect):
	// then fn drops every entry. Call it before the bus runs.
	Subscribe(topic string, fn func(key string))
}

// handlers is the subscription table both buses share.
type handlers struct {
	mu sync.RWMutex
	fn map[string][]func(string)
}

func (h *handlers) add(topic string, fn func(string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fn == nil {
		h.fn = map[string][]func(string){}
	}
	h.fn[topic] = append(h.fn[topic], fn)
}

// call runs topic's handlers with key; topic "" runs every handler.
func (h *handlers) call(topic, key string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for t, fns := range h.fn {
		if topic != "" && t != topic {
			continue
		}
		for _, fn := range fns {
			fn(key)
		}
	}
}

// Memory is the bus of a single node: Publish calls the handlers at once.
type Memory struct{ h handlers }

// NewMemory returns a one-node bus.
func NewMemory() *Memory { return &Memory{} }

// Publish implements Bus.
func (m *Memory) Publish(_ context.Context, topic, key string) { m.h.call(topic, key) }

// Subscribe implements Bus.
func (m *Memory) Subscribe(topic string, fn func(string)) { m.h.add(topic, fn) }
