package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Identity is who a connection belongs to.
type Identity struct {
	Tenant, User string
	Roles        []string
}

// HubOptions tune a Hub; zero values pick the defaults.
type HubOptions struct {
	QueueSize    int           // per-connection send queue; default 256
	WriteTimeout time.Duration // default 10s
	PingInterval time.Duration // default 25s
	// CanSubscribe decides whether id may subscribe to a client channel
	// other than its own "user:{id.User}". Nil allows "leaderboard:*".
	CanSubscribe func(id Identity, channel string) bool
	// MaxSubscriptions per connection; default 32.
	MaxSubscriptions int
	Logger           *slog.Logger
}

func (o HubOptions) withDefaults() HubOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 32
	}
	if o.CanSubscribe == nil {
		o.CanSubscribe = func(_ Identity, ch string) bool { return strings.HasPrefix(ch, "leaderboard:") }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Hub is one node's set of WebSocket connections and their subscriptions.
type Hub struct {
	broker Broker
	opts   HubOptions

	mu    sync.RWMutex
	subs  map[string]map[*conn]struct{} // broker channel -> connections
	conns map[*conn]struct{}

	// subMu serialises broker Subscribe/Unsubscribe with the reference
	// counts, so a channel is subscribed once per node and unsubscribed
	// only when its last local connection leaves.
	subMu sync.Mutex

	closing bool
	drained chan struct{} // closed when closing and the last conn left
}

// NewHub returns a hub over b.
func NewHub(b Broker, opts HubOptions) *Hub {
	return &Hub{
		broker: b, opts: opts.withDefaults(),
		subs: map[string]map[*conn]struct{}{}, conns: map[*conn]struct{}{},
		drained: make(chan struct{}),
	}
}

// Run feeds broker deliveries to the hub's connections until ctx ends.
func (h *Hub) Run(ctx context.Context) error { return h.broker.Run(ctx, h.dispatch) }

func brokerChannel(tenant, channel string) string { return tenant + "|" + channel }

// PublishUser pushes typ/data to the user's "user:{user}" channel.
func (h *Hub) PublishUser(ctx context.Context, tenant, user, typ string, data any) error {
	return h.Publish(ctx, tenant, "user:"+user, typ, data)
}

// Publish pushes typ/data (JSON-encoded) to a tenant's client channel.
func (h *Hub) Publish(ctx context.Context, tenant, channel, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("realtime: publish %s: %w", channel, err)
	}
	// A push must not hold up the request that caused it for long.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = h.broker.Publish(ctx, brokerChannel(tenant, channel), typ, raw)
	return err
}

// Connections counts open connections on this node.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// dispatch hands a delivered message to every local subscriber. The frame
// is encoded once, whatever the number of subscribers.
func (h *Hub) dispatch(m Message) {
	_, client, _ := strings.Cut(m.Channel, "|")
	frame, err := json.Marshal(outFrame{Type: m.Type, Channel: client, Seq: m.Seq, Data: m.Data})
	if err != nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.subs[m.Channel] {
		c.deliver(m, frame)
	}
}

// outFrame is what a client receives.
type outFrame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel,omitempty"`
	Seq     uint64          `json:"seq,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (h *Hub) add(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

// remove forgets c and all its subscriptions.
func (h *Hub) remove(ctx context.Context, c *conn) {
	for _, ch := range c.channels() {
		h.unsubscribe(ctx, c, ch)
	}
	h.mu.Lock()
	delete(h.conns, c)
	if h.closing && len(h.conns) == 0 {
		select {
		case <-h.drained:
		default:
			close(h.drained)
		}
	}
	h.mu.Unlock()
}

// subscribe adds c to a broker channel, subscribing the node if c is the
// first local subscriber.
func (h *Hub) subscribe(ctx context.Context, c *conn, channel string) error {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.mu.Lock()
	set := h.subs[channel]
	first := set == nil
	if first {
		set = map[*conn]struct{}{}
		h.subs[channel] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	if !first {
		return nil
	}
	if err := h.broker.Subscribe(ctx, channel); err != nil {
		h.mu.Lock()
		delete(set, c)
		if len(set) == 0 {
			delete(h.subs, channel)
		}
		h.mu.Unlock()
		return err
	}
	return nil
}

func (h *Hub) unsubscribe(ctx context.Context, c *conn, channel string) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.mu.Lock()
	set := h.subs[channel]
	delete(set, c)
	last := set != nil && len(set) == 0
	if last {
		delete(h.subs, channel)
	}
	h.mu.Unlock()
	if last {
		if err := h.broker.Unsubscribe(ctx, channel); err != nil {
			h.opts.Logger.Warn("realtime: unsubscribe", "channel", channel, "err", err)
		}
	}
}

// Shutdown sends every connection a close frame (1001, going away) and
// waits, bounded by ctx, for them to finish. New connections are refused.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	if len(h.conns) == 0 {
		select {
		case <-h.drained:
		default:
			close(h.drained)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.kill(closeGoingAway, "server shutting down")
	}
	select {
	case <-h.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("realtime: shutdown: %d connections still open: %w", h.Connections(), ctx.Err())
	}
}
