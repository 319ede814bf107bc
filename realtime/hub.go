package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/questline/questline/internal/breaker"
)

// Identity is who a connection belongs to, filled by the caller's
// authenticator.
type Identity struct {
	Tenant, User string
	Roles        []string
	// Expires is when the credential stops being valid: the connection is
	// closed then (closeTokenExpired), and the client reconnects with a
	// fresh token. Zero never expires.
	Expires time.Time
}

// HubOptions tune a Hub; zero values pick the defaults.
type HubOptions struct {
	QueueSize    int           // per-connection bounded send queue; default 256
	WriteTimeout time.Duration // per write; default 10s
	PingInterval time.Duration // WebSocket pings to every client; default 25s
	// CanSubscribe decides whether id may subscribe to a client channel
	// other than its own "user:{id.User}" (always allowed, and subscribed
	// on connect). Nil allows "leaderboard:*" only. Other users' "user:"
	// channels are refused before CanSubscribe is asked.
	CanSubscribe func(id Identity, channel string) bool
	// MaxSubscriptions caps the channels of one connection; default 32.
	MaxSubscriptions int
	// MaxUserConnections caps the open connections of one user on this
	// node (every device, every tab); default 10. One more is refused
	// with 429 before the upgrade.
	MaxUserConnections int
	// DrainPeriod spreads Shutdown's close frames (1012, reconnect
	// elsewhere) evenly over this long, so a node's clients do not all
	// reconnect to the others in the same second; 0 closes all at once.
	DrainPeriod time.Duration
	// Logger receives the hub's warnings; nil discards them.
	Logger *slog.Logger
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
	if o.MaxUserConnections <= 0 {
		o.MaxUserConnections = 10
	}
	if o.CanSubscribe == nil {
		o.CanSubscribe = func(_ Identity, ch string) bool { return strings.HasPrefix(ch, "leaderboard:") }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Timeouts of the hub's own broker calls: fasthttp never cancels a
// request's context, so each call carries its own deadline.
const (
	publishTimeout  = 2 * time.Second // a push must not hold up the request that caused it
	publishCooldown = time.Second     // pushes skipped after one timed out, between probes
	brokerTimeout   = 3 * time.Second // subscribe, unsubscribe, history, last seq
)

// Hub is one node's set of WebSocket connections and their subscriptions.
// It subscribes the broker to a channel once, when the first local
// connection joins it, and unsubscribes when the last one leaves.
type Hub struct {
	broker Broker
	opts   HubOptions

	mu      sync.RWMutex
	subs    map[string]map[*conn]struct{} // broker channel -> local subscribers
	conns   map[*conn]struct{}
	users   map[string]int // tenant|user -> open connections
	closing bool
	drained chan struct{} // closed once closing and the last connection left

	// locks serialise, per channel (striped), the reference count with the
	// broker's Subscribe/Unsubscribe, so one channel's calls never
	// interleave while different channels proceed in parallel.
	seed  maphash.Seed
	locks [64]sync.Mutex

	// node names this hub in the presence counts; dirty holds channels
	// whose local count changed since the last flush (h.mu).
	node  string
	dirty map[string]bool

	// poll reads the sockets while Run runs (Linux); nil otherwise, and
	// then each connection has a reading goroutine.
	poll atomic.Pointer[poller]

	// publishing skips pushes for a while after one timed out: a broker
	// that stopped answering would otherwise hold every request that
	// pushes for the whole publishTimeout. A skipped push is lost as a
	// failed one is; the client reads the state it describes again.
	publishing *breaker.Breaker
}

// Presence timing: changes reach the shared counts within presenceFlush;
// every count is rewritten each presenceRefresh and lives presenceTTL, so
// a node that dies stops counting within presenceTTL.
const (
	presenceFlush   = time.Second
	presenceRefresh = 10 * time.Second
	presenceTTL     = 30 * time.Second
)

// counted reports whether channel's watchers are counted: a user channel's
// are not (only its owner may watch, and there are as many as users).
func counted(channel string) bool {
	_, client, _ := strings.Cut(channel, "|")
	return !strings.HasPrefix(client, "user:")
}

// NewHub returns a hub over b.
func NewHub(b Broker, opts HubOptions) *Hub {
	return &Hub{
		broker: b, opts: opts.withDefaults(),
		subs: map[string]map[*conn]struct{}{}, conns: map[*conn]struct{}{}, users: map[string]int{},
		drained: make(chan struct{}), seed: maphash.MakeSeed(),
		node: newEpoch(), dirty: map[string]bool{}, publishing: breaker.New(publishCooldown),
	}
}

// Run runs the broker's delivery loop into the hub's connections until ctx
// ends or the broker is closed.
func (h *Hub) Run(ctx context.Context) error {
	if p, err := newPoller(); err == nil {
		h.poll.Store(p)
		go p.run()
		defer func() { h.poll.Store(nil); p.stop() }()
	} else if !errors.Is(err, errors.ErrUnsupported) {
		h.opts.Logger.Warn("realtime: no poller, a goroutine reads each socket", "err", err)
	}
	pctx, stop := context.WithCancel(ctx)
	presence := make(chan struct{})
	go func() { defer close(presence); h.runPresence(pctx) }()
	defer func() { stop(); <-presence }()
	if err := h.broker.Run(ctx, h.dispatch); err != nil {
		return fmt.Errorf("realtime: run: %w", err)
	}
	return nil
}

// runPresence writes this node's counts of counted channels to the
// broker: changed ones every presenceFlush, all every presenceRefresh,
// and zeros when it stops.
func (h *Hub) runPresence(ctx context.Context) {
	flush, refresh := time.NewTicker(presenceFlush), time.NewTicker(presenceRefresh)
	defer flush.Stop()
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			counts := h.presenceCounts(true)
			for ch := range counts {
				counts[ch] = 0
			}
			h.writePresence(counts)
			return
		case <-flush.C:
			h.writePresence(h.presenceCounts(false))
		case <-refresh.C:
			h.writePresence(h.presenceCounts(true))
		}
	}
}

// presenceCounts returns the local counts of the dirty channels (all
// counted ones with all set) and clears the dirty set.
func (h *Hub) presenceCounts(all bool) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	counts := make(map[string]int, len(h.dirty))
	for ch := range h.dirty {
		counts[ch] = len(h.subs[ch])
	}
	if all {
		for ch, set := range h.subs {
			if counted(ch) {
				counts[ch] = len(set)
			}
		}
	}
	clear(h.dirty)
	return counts
}

func (h *Hub) writePresence(counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if err := h.broker.SetPresence(ctx, h.node, counts, presenceTTL); err != nil {
		h.opts.Logger.Warn("realtime: presence not recorded", "channels", len(counts), "err", err)
	}
}

// Presence returns how many connections, on every node, are subscribed
// to a tenant's client channel (not counted for "user:" channels). It
// lags subscriptions by about a second.
func (h *Hub) Presence(ctx context.Context, tenant, channel string) (int, error) {
	if !validTenant(tenant) || !validChannel(channel) || strings.HasPrefix(channel, "user:") {
		return 0, fmt.Errorf("realtime: presence of %q in tenant %q: not a counted channel", channel, tenant)
	}
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	return h.broker.Presence(ctx, brokerChannel(tenant, channel))
}

// brokerChannel scopes a client channel to its tenant. Tenants hold no
// "|", so the first one separates the two; client channels may (an
// identity provider's subject such as "auth0|abc" is a user id).
func brokerChannel(tenant, channel string) string { return tenant + "|" + channel }

func validTenant(tenant string) bool {
	return tenant != "" && !strings.ContainsFunc(tenant, func(r rune) bool { return r == '|' || unicode.IsControl(r) })
}

// maxChannelLen bounds a client channel name.
const maxChannelLen = 200

// validChannel accepts "kind:id" names of printable characters.
func validChannel(ch string) bool {
	kind, id, ok := strings.Cut(ch, ":")
	return ok && kind != "" && id != "" && len(ch) <= maxChannelLen && !strings.ContainsFunc(ch, unicode.IsControl)
}

// PublishUser pushes typ/data (JSON-marshalled) to the user's
// "user:{user}" channel.
func (h *Hub) PublishUser(ctx context.Context, tenant, user, typ string, data any) error {
	return h.Publish(ctx, tenant, "user:"+user, typ, data)
}

// Publish pushes typ/data (JSON-marshalled) to a client channel of a
// tenant, such as "leaderboard:b1".
func (h *Hub) Publish(ctx context.Context, tenant, channel, typ string, data any) error {
	if !validTenant(tenant) || !validChannel(channel) {
		return fmt.Errorf("realtime: publish %q to tenant %q: not a channel name", channel, tenant)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("realtime: publish %s: %w", channel, err)
	}
	if !h.publishing.Allow() {
		return fmt.Errorf("realtime: publish %s: %w", channel, breaker.ErrOpen)
	}
	// The broker returns at the deadline itself (the Redis broker's client
	// honours contexts), so no goroutine is spent on bounding the wait.
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	// The brokers' errors already say "realtime: publish <channel>: …".
	_, err = h.broker.Publish(ctx, brokerChannel(tenant, channel), typ, raw)
	if h.publishing.Done(err) {
		h.opts.Logger.Warn("realtime: the broker timed out; pushes are skipped, probing it each second", "err", err)
	}
	return err
}

// Connections counts the open connections of this node.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// dispatch hands a delivered message to every local subscriber. The wire
// frame is built once, whatever the number of subscribers, and handing it over
// never blocks: a connection that cannot take it is cut.
func (h *Hub) dispatch(m Message) {
	_, client, _ := strings.Cut(m.Channel, "|") // tenants hold no "|"; user ids may
	b, err := json.Marshal(outFrame{Type: m.Type, Channel: client, Epoch: m.Epoch, Seq: m.Seq, Data: m.Data})
	if err != nil {
		h.opts.Logger.Warn("realtime: unencodable message", "channel", m.Channel, "type", m.Type, "err", err)
		return
	}
	frame := textFrame(b)
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
	Epoch   string          `json:"epoch,omitempty"`
	Seq     uint64          `json:"seq,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// subscribedFrame answers a subscribe; seq is always present (0 on a
// channel that never had a message, which has no epoch yet).
type subscribedFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Epoch   string `json:"epoch,omitempty"`
	Seq     uint64 `json:"seq"`
}

// full reports whether id has as many connections as it may open.
func (h *Hub) full(id Identity) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.users[brokerChannel(id.Tenant, id.User)] >= h.opts.MaxUserConnections
}

// add registers c unless the hub is shutting down or c's user has too
// many connections (the upgrade checked, but others may have raced it);
// then it returns the close code and reason to send.
func (h *Hub) add(c *conn) (refused int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	user := brokerChannel(c.id.Tenant, c.id.User)
	switch {
	case h.closing:
		return closeRestart, "server restarting: reconnect elsewhere"
	case h.users[user] >= h.opts.MaxUserConnections:
		return closePolicy, "too many connections"
	}
	h.conns[c] = struct{}{}
	h.users[user]++
	return 0, ""
}

// remove forgets c and all its subscriptions.
func (h *Hub) remove(c *conn) {
	for _, ch := range c.dropAll() {
		h.unsubscribe(c, ch)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	user := brokerChannel(c.id.Tenant, c.id.User)
	if h.users[user]--; h.users[user] <= 0 {
		delete(h.users, user)
	}
	if h.closing && len(h.conns) == 0 {
		h.drain()
	}
}

// drain closes drained once; h.mu is held.
func (h *Hub) drain() {
	select {
	case <-h.drained:
	default:
		close(h.drained)
	}
}

func (h *Hub) lock(channel string) *sync.Mutex {
	return &h.locks[maphash.String(h.seed, channel)%uint64(len(h.locks))]
}

// subscribe adds c to a broker channel, subscribing the node when c is
// its first local subscriber. When it returns nil, every message
// published from then on reaches c.
func (h *Hub) subscribe(c *conn, channel string) error {
	l := h.lock(channel)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	set := h.subs[channel]
	first := set == nil
	if first {
		set = map[*conn]struct{}{}
		h.subs[channel] = set
	}
	set[c] = struct{}{}
	if counted(channel) {
		h.dirty[channel] = true
	}
	h.mu.Unlock()
	if !first {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if err := h.broker.Subscribe(ctx, channel); err != nil {
		// Nobody else joined meanwhile: they wait for the channel's lock.
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

// unsubscribe removes c from a broker channel, unsubscribing the node when
// c was its last local subscriber.
func (h *Hub) unsubscribe(c *conn, channel string) {
	l := h.lock(channel)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	set, ok := h.subs[channel]
	if ok {
		delete(set, c)
		if counted(channel) {
			h.dirty[channel] = true
		}
	}
	last := ok && len(set) == 0
	if last {
		delete(h.subs, channel)
	}
	h.mu.Unlock()
	if !last {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if err := h.broker.Unsubscribe(ctx, channel); err != nil {
		h.opts.Logger.Warn("realtime: unsubscribe failed", "channel", channel, "err", err)
	}
}

// header is implemented by both brokers: a channel's head in one cheap
// call.
type header interface {
	Head(ctx context.Context, channel string) (Position, error)
}

// head returns channel's epoch and newest seq, from the history when the
// broker has no cheaper way.
func (h *Hub) head(channel string) (Position, error) {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if b, ok := h.broker.(header); ok {
		return b.Head(ctx, channel)
	}
	msgs, _, err := h.broker.History(ctx, channel, Position{})
	if err != nil || len(msgs) == 0 {
		return Position{}, err
	}
	last := msgs[len(msgs)-1]
	return Position{Epoch: last.Epoch, Seq: last.Seq}, nil
}

// history reads what channel published after since.
func (h *Hub) history(channel string, since Position) ([]Message, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	return h.broker.History(ctx, channel, since)
}

// Shutdown drains the node: it sends every connection a close frame
// (1012: reconnect elsewhere, resuming), spread evenly over DrainPeriod in
// random order, and waits, bounded by ctx, for them to finish.
// Connections arriving meanwhile are closed the same way at once.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	if len(h.conns) == 0 {
		h.drain()
	}
	h.mu.Unlock()
	rand.Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
	start := time.Now()
	for i, c := range conns {
		// The i-th close goes at i/n of the period; sleeping only when
		// ahead keeps 100k closes from costing 100k timers.
		if due := start.Add(h.opts.DrainPeriod * time.Duration(i) / time.Duration(len(conns))); time.Until(due) > 10*time.Millisecond {
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(due)):
			}
		}
		c.kill(closeRestart, "server restarting: reconnect elsewhere")
	}
	select {
	case <-h.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("realtime: shutdown: %d connections still open: %w", h.Connections(), ctx.Err())
	}
}
