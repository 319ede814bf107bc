// Package realtime pushes what happens to players' phones over WebSocket:
// a node-local Hub of connections, fed by a Broker that moves messages
// between nodes and keeps a short per-channel history so a reconnecting
// client can resume from its last sequence number without gaps.
//
// Like centrifugal/centrifuge, the Broker seam has two implementations side
// by side: memory (one node, broker_memory.go) and Redis pub/sub (many
// nodes, broker_redis.go), sharing one conformance table (broker_test.go).
//
// Channels: a client sees names such as "user:u1" or "leaderboard:b1"; the
// hub scopes every one to its tenant, so the broker channel is
// tenant + "|" + client channel and tenants never share a stream.
package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Message is one published frame on a tenant-scoped channel.
type Message struct {
	Channel string          `json:"channel"` // broker channel: tenant + "|" + client channel
	Epoch   string          `json:"epoch"`   // the channel's history this message belongs to
	Seq     uint64          `json:"seq"`     // per channel and epoch, starts at 1, no gaps
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
}

// Position is a point in a channel's stream. A channel's counter lives in
// the broker's backend, and that backend may lose it (a Redis restart
// without persistence, a failover, FLUSHALL): the counter then starts
// again at 1. Each counter is created with a random Epoch, so seqs of two
// lives of a channel are never compared. The zero Position is the start of
// whatever epoch a channel is in; an empty Epoch with a Seq is a
// position whose epoch is unknown (a client that did not send it), taken
// to be the current one.
type Position struct {
	Epoch string
	Seq   uint64
}

// newEpoch returns a fresh random epoch id.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Broker moves messages between nodes and keeps a short per-channel
// history so a client can resume.
type Broker interface {
	// Publish assigns the channel's next seq, appends the message to the
	// channel's bounded history (size and TTL from BrokerOptions) and
	// delivers it to every node subscribed to the channel, this one
	// included.
	Publish(ctx context.Context, channel, typ string, data []byte) (Message, error)
	// History returns the messages after since, oldest first. complete is
	// false when the history no longer reaches back to since.Seq+1, since
	// is ahead of the channel, or since is of another epoch (then msgs is
	// the whole history of the current epoch): the client missed
	// something and must refetch state.
	History(ctx context.Context, channel string, since Position) (msgs []Message, complete bool, err error)
	// DropHistory forgets the messages kept for channel (a user's erasure
	// must not leave their pushes readable). The seq goes on, so a client
	// resuming from before is told it missed something, as after expiry.
	DropHistory(ctx context.Context, channel string) error
	// Subscribe and Unsubscribe this node to a channel; deliveries go to
	// the handler given to Run. Every message published after Subscribe
	// returns is delivered, once, in seq order.
	Subscribe(ctx context.Context, channel string) error
	Unsubscribe(ctx context.Context, channel string) error
	// Run delivers the messages of subscribed channels to h, in seq order
	// per channel and without gaps or repeats while the history allows,
	// until ctx is done or the broker is closed. Call it once.
	Run(ctx context.Context, h func(Message)) error
	// SetPresence records how many local connections node holds on each
	// channel of counts (0 drops the node's entry), valid for ttl: a node
	// that dies stops being counted within ttl.
	SetPresence(ctx context.Context, node string, counts map[string]int, ttl time.Duration) error
	// Presence sums the live entries of every node for channel: one
	// small read, cheap enough to show live.
	Presence(ctx context.Context, channel string) (int, error)
	// Ping checks the broker's backend.
	Ping(ctx context.Context) error
	// Close releases the broker; Run returns and later calls fail.
	Close() error
}

// BrokerOptions bound a channel's history. Zero values pick the defaults.
type BrokerOptions struct {
	HistorySize int           // messages kept per channel; default 100
	HistoryTTL  time.Duration // history of a channel idle this long is dropped; default 10m
}

func (o BrokerOptions) withDefaults() BrokerOptions {
	if o.HistorySize <= 0 {
		o.HistorySize = 100
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = 10 * time.Minute
	}
	return o
}

// seqTTL keeps a channel's counter well beyond its history, so a client
// resuming after the history expired is told of the gap. (A counter that
// is lost anyway restarts in a new epoch.)
const seqTTL = 7 * 24 * time.Hour

// catchUpTimeout bounds the history read a broker makes to fill a gap.
const catchUpTimeout = 3 * time.Second

// ErrClosed is returned by a broker used after Close.
var ErrClosed = errors.New("realtime: broker closed")

// checkPublish rejects what no broker can carry: the Redis encoding is
// line based, and every broker must accept the same input.
func checkPublish(channel, typ string) error {
	if channel == "" || typ == "" || strings.ContainsRune(typ, '\n') {
		return fmt.Errorf("realtime: publish %q: channel and type must be set, type on one line (%q)", channel, typ)
	}
	return nil
}

// historyFrom picks the messages after since from hist (oldest first,
// consecutive seqs of head's epoch) and says whether nothing between since
// and head, the channel's newest position, is missing.
func historyFrom(hist []Message, since, head Position) ([]Message, bool) {
	if since.Epoch != "" && since.Epoch != head.Epoch {
		return hist, false // the counter restarted: everything is new
	}
	if since.Seq >= head.Seq {
		return nil, since.Seq == head.Seq
	}
	var out []Message
	for _, m := range hist {
		if m.Seq > since.Seq {
			out = append(out, m)
		}
	}
	complete := len(out) > 0 && out[0].Seq == since.Seq+1
	return out, complete
}

// tracker keeps a node's deliveries gap-free and repeat-free per channel.
// It remembers the last position delivered on every subscribed channel: a
// message at or below it is a repeat and is dropped; a message further on
// than the next one means deliveries were lost (a full buffer, a pub/sub
// reconnect), and the missing ones are read from the history first. A
// message of another epoch means the counter restarted: its seqs start
// again from 1 and are all new, however low.
//
// Only Run's goroutine delivers; Subscribe and Unsubscribe may run on any.
type tracker struct {
	mu   sync.Mutex
	last map[string]Position
}

func newTracker() *tracker { return &tracker{last: map[string]Position{}} }

// start tracks channel from base (its head when the node subscribed). It
// reports false when the channel was tracked already.
func (t *tracker) start(channel string, base Position) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.last[channel]; ok {
		return false
	}
	t.last[channel] = base
	return true
}

func (t *tracker) stop(channel string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.last, channel)
}

func (t *tracker) tracked(channel string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.last[channel]
	return ok
}

// after reports where m stands after last: new (not delivered yet) and,
// if so, the position the stream stood at just before m's epoch began
// or last, whichever is in m's epoch.
func after(last Position, m Message) (fresh bool, from Position) {
	if last.Epoch != "" && last.Epoch != m.Epoch || last.Epoch == "" && last.Seq == 0 {
		return true, Position{Epoch: m.Epoch}
	}
	return m.Seq > last.Seq, last
}

// next reports whether m is the next message of a tracked channel and, if
// it is further on, from which position the history must fill the gap.
func (t *tracker) next(m Message) (deliver bool, gapFrom Position, gap bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.last[m.Channel]
	if !ok {
		return false, Position{}, false
	}
	fresh, from := after(last, m)
	return fresh, from, fresh && m.Seq > from.Seq+1
}

// advance records m as delivered unless the channel was dropped or moved
// past it meanwhile; it reports whether to deliver m.
func (t *tracker) advance(m Message) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.last[m.Channel]
	if !ok {
		return false
	}
	if fresh, _ := after(last, m); !fresh {
		return false
	}
	t.last[m.Channel] = Position{Epoch: m.Epoch, Seq: m.Seq}
	return true
}

// historyFunc is Broker.History.
type historyFunc func(ctx context.Context, channel string, since Position) ([]Message, bool, error)

// deliver hands m to h after whatever the history holds between the last
// delivered message and m.
func (t *tracker) deliver(ctx context.Context, m Message, history historyFunc, h func(Message)) {
	ok, from, gap := t.next(m)
	if !ok {
		return
	}
	if gap {
		t.fill(ctx, m.Channel, from, m.Seq, history, h)
	}
	if t.advance(m) {
		h(m)
	}
}

// catchUp delivers what the history holds after the last delivered
// position of channel: after a (re)subscription is confirmed, what was
// published while it was being set up or while the connection was down.
func (t *tracker) catchUp(ctx context.Context, channel string, history historyFunc, h func(Message)) {
	t.mu.Lock()
	from, ok := t.last[channel]
	t.mu.Unlock()
	if ok {
		t.fill(ctx, channel, from, 0, history, h)
	}
}

// fill delivers channel's messages after from (and, in from's epoch,
// before upTo unless it is 0). What the history lost stays lost: the hub
// tells clients of the jump in seq.
func (t *tracker) fill(ctx context.Context, channel string, from Position, upTo uint64, history historyFunc, h func(Message)) {
	hctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	msgs, _, err := history(hctx, channel, from)
	cancel()
	if err != nil {
		return
	}
	for _, m := range msgs {
		if upTo != 0 && m.Epoch == from.Epoch && m.Seq >= upTo {
			return
		}
		if t.advance(m) {
			h(m)
		}
	}
}
