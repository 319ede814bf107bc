package realtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisBroker spreads messages over Redis pub/sub so every node's hub sees
// every publish, and keeps each channel's counter and history in Redis.
//
// Keys of channel C: "ql:rt:{C}:seq" (counter), "ql:rt:{C}:hist" (list,
// newest first) and the pub/sub channel "ql:rt:{C}". The hash tag keeps the
// keys in one Cluster slot, so the publish script and the history read are
// single-slot. Plain PUBLISH reaches every node of a Cluster, which is
// correct but fans every message out cluster-wide; sharded pub/sub
// (SSUBSCRIBE/SPUBLISH, one PubSub per shard) is the later step that keeps
// fan-out on the slot's shard.
//
// A node holds one PubSub connection. Subscribe records the channel's seq
// before it sends SUBSCRIBE; when Redis confirms a subscription (the first
// time, and again after go-redis reconnects and resubscribes), Run reads
// from the history what was published since then, so no message is lost
// between "subscribed" and the first live delivery, or across a reconnect.
type RedisBroker struct {
	client redis.UniversalClient
	opts   BrokerOptions
	tr     *tracker

	mu     sync.Mutex
	pubsub *redis.PubSub
	feed   <-chan any // the PubSub's messages and subscription confirmations
	closed bool
	done   chan struct{}
}

// redisQueue is the size of go-redis's delivery buffer between the PubSub
// connection and Run.
const redisQueue = 4096

// publishScript assigns the next seq, records and broadcasts the message
// atomically. KEYS: seq, history. ARGV: pub/sub channel, encoded message
// without its seq, history size, history TTL (ms), seq TTL (ms).
var publishScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local msg = seq .. '\n' .. ARGV[2]
redis.call('LPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[1], msg)
return seq
`)

// historyScript returns the channel's newest seq and, newest first, only
// the entries after since: the list holds consecutive seqs ending at the
// counter, so the first (last - since) entries are exactly those.
// KEYS: seq, history. ARGV: since.
var historyScript = redis.NewScript(`
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
if since >= last then
  return {last}
end
return {last, redis.call('LRANGE', KEYS[2], 0, last - since - 1)}
`)

// NewRedisBroker returns a broker on client. The client stays the
// caller's: Close does not close it.
func NewRedisBroker(client redis.UniversalClient, opts BrokerOptions) *RedisBroker {
	return &RedisBroker{client: client, opts: opts.withDefaults(), tr: newTracker(), done: make(chan struct{})}
}

const keyPrefix = "ql:rt:{"

func redisKeys(channel string) (seq, hist, pub string) {
	tag := keyPrefix + channel + "}"
	return tag + ":seq", tag + ":hist", tag
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, channel, typ string, data []byte) (Message, error) {
	if err := checkPublish(channel, typ); err != nil {
		return Message{}, err
	}
	if b.isClosed() {
		return Message{}, fmt.Errorf("realtime: publish %s: %w", channel, ErrClosed)
	}
	seqKey, histKey, pub := redisKeys(channel)
	seq, err := publishScript.Run(ctx, b.client, []string{seqKey, histKey},
		pub, typ+"\n"+string(data), b.opts.HistorySize,
		b.opts.HistoryTTL.Milliseconds(), seqTTL.Milliseconds()).Uint64()
	if err != nil {
		return Message{}, fmt.Errorf("realtime: publish %s: %w", channel, err)
	}
	return Message{Channel: channel, Seq: seq, Type: typ, Data: append([]byte(nil), data...)}, nil
}

// decode parses "seq\ntype\ndata".
func decode(channel, raw string) (Message, error) {
	seqStr, rest, ok1 := strings.Cut(raw, "\n")
	typ, data, ok2 := strings.Cut(rest, "\n")
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return Message{}, fmt.Errorf("realtime: malformed message on %s", channel)
	}
	return Message{Channel: channel, Seq: seq, Type: typ, Data: []byte(data)}, nil
}

// History implements Broker.
func (b *RedisBroker) History(ctx context.Context, channel string, since uint64) ([]Message, bool, error) {
	if b.isClosed() {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, ErrClosed)
	}
	seqKey, histKey, _ := redisKeys(channel)
	res, err := historyScript.Run(ctx, b.client, []string{seqKey, histKey}, since).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, err)
	}
	last, ok := res[0].(int64)
	if !ok || last < 0 {
		return nil, false, fmt.Errorf("realtime: history %s: unexpected reply %v", channel, res)
	}
	var raw []any
	if len(res) > 1 {
		raw, _ = res[1].([]any)
	}
	hist := make([]Message, 0, len(raw))
	for i := len(raw) - 1; i >= 0; i-- { // LPUSH keeps newest first
		s, _ := raw[i].(string)
		m, err := decode(channel, s)
		if err != nil {
			return nil, false, fmt.Errorf("realtime: history %s: %w", channel, err)
		}
		hist = append(hist, m)
	}
	msgs, complete := historyFrom(hist, since, uint64(last))
	return msgs, complete, nil
}

// LastSeq returns the channel's newest seq (0 before its first message).
func (b *RedisBroker) LastSeq(ctx context.Context, channel string) (uint64, error) {
	if b.isClosed() {
		return 0, fmt.Errorf("realtime: last seq %s: %w", channel, ErrClosed)
	}
	seqKey, _, _ := redisKeys(channel)
	n, err := b.client.Get(ctx, seqKey).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("realtime: last seq %s: %w", channel, err)
	}
	return n, nil
}

// conn returns the node's PubSub and its feed, opening them on first use.
func (b *RedisBroker) conn() (*redis.PubSub, <-chan any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, ErrClosed
	}
	if b.pubsub == nil {
		// A PubSub without channels connects lazily; go-redis pings it,
		// reconnects it and resubscribes its channels on its own.
		b.pubsub = b.client.Subscribe(context.Background())
		b.feed = b.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(redisQueue))
	}
	return b.pubsub, b.feed, nil
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string) error {
	ps, _, err := b.conn()
	if err != nil {
		return fmt.Errorf("realtime: subscribe %s: %w", channel, err)
	}
	if b.tr.tracked(channel) {
		return nil
	}
	// The seq before SUBSCRIBE: everything after it reaches Run, live or
	// from the history once Redis confirms the subscription.
	base, err := b.LastSeq(ctx, channel)
	if err != nil {
		return fmt.Errorf("realtime: subscribe %s: %w", channel, err)
	}
	if !b.tr.start(channel, base) {
		return nil
	}
	_, _, pub := redisKeys(channel)
	if err := ps.Subscribe(ctx, pub); err != nil {
		b.tr.stop(channel)
		_ = ps.Unsubscribe(context.WithoutCancel(ctx), pub) // go-redis would resubscribe it on reconnect
		return fmt.Errorf("realtime: subscribe %s: %w", channel, err)
	}
	return nil
}

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, channel string) error {
	ps, _, err := b.conn()
	if err != nil {
		return nil // closed: nothing is subscribed any more
	}
	b.tr.stop(channel)
	_, _, pub := redisKeys(channel)
	if err := ps.Unsubscribe(ctx, pub); err != nil {
		return fmt.Errorf("realtime: unsubscribe %s: %w", channel, err)
	}
	return nil
}

// Run implements Broker.
func (b *RedisBroker) Run(ctx context.Context, h func(Message)) error {
	_, feed, err := b.conn()
	if err != nil {
		return nil // closed
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return nil
		case v, ok := <-feed:
			if !ok {
				return nil
			}
			switch v := v.(type) {
			case *redis.Subscription:
				// Confirmed, first time or after a reconnect: deliver
				// what was published while the subscription was not live.
				if v.Kind == "subscribe" {
					b.tr.catchUp(ctx, channelOf(v.Channel), b.History, h)
				}
			case *redis.Message:
				channel := channelOf(v.Channel)
				m, err := decode(channel, v.Payload)
				if err != nil {
					continue
				}
				b.tr.deliver(ctx, m, b.History, h)
			}
		}
	}
}

// channelOf maps a pub/sub channel "ql:rt:{C}" back to C.
func channelOf(pub string) string {
	return strings.TrimSuffix(strings.TrimPrefix(pub, keyPrefix), "}")
}

// Ping implements Broker.
func (b *RedisBroker) Ping(ctx context.Context) error {
	if b.isClosed() {
		return fmt.Errorf("realtime: redis ping: %w", ErrClosed)
	}
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("realtime: redis ping: %w", err)
	}
	return nil
}

func (b *RedisBroker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close implements Broker: it drops the node's PubSub connection and ends
// Run. The client stays open (it is shared).
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.done)
	if b.pubsub == nil {
		return nil
	}
	if err := b.pubsub.Close(); err != nil {
		return fmt.Errorf("realtime: close: %w", err)
	}
	return nil
}
