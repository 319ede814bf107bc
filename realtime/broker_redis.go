package realtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisBroker spreads messages over Redis pub/sub so every node's hub sees
// every publish, and keeps each channel's counter and history in Redis.
//
// Keys of channel C: "ql:rt:{C}:head" (a hash: the counter "seq" and the
// "epoch" created with it, so they are lost together and a restarted
// counter is told apart), "ql:rt:{C}:hist" (list, newest first) and the
// pub/sub channel "ql:rt:{C}". The hash tag keeps the
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
// atomically; a new counter gets the epoch offered. A counter created
// again (its keys were lost) starts a history of its own: what the list
// still held is of the old epoch and is dropped. KEYS: head, history.
// ARGV: pub/sub channel, encoded message without epoch and seq, history
// size, history TTL (ms), seq TTL (ms), a fresh epoch.
var publishScript = redis.NewScript(`
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if seq == 1 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[6])
  redis.call('DEL', KEYS[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local msg = epoch .. '\n' .. seq .. '\n' .. ARGV[2]
redis.call('LPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[1], msg)
return {seq, epoch}
`)

// historyScript returns the channel's head (newest seq, epoch) and, newest
// first, only the entries after since: the list holds consecutive seqs
// ending at the counter, so the first (last - since) entries are exactly
// those; since of another epoch gets them all. KEYS: head, history. ARGV:
// since's seq, since's epoch ("" when unknown).
var historyScript = redis.NewScript(`
local head = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
local last = tonumber(head[1] or '0')
local epoch = head[2] or ''
local since = tonumber(ARGV[1])
if ARGV[2] ~= '' and ARGV[2] ~= epoch then
  return {last, epoch, redis.call('LRANGE', KEYS[2], 0, -1)}
end
if since >= last then
  return {last, epoch}
end
return {last, epoch, redis.call('LRANGE', KEYS[2], 0, last - since - 1)}
`)

// NewRedisBroker returns a broker on client. The client stays the
// caller's: Close does not close it.
func NewRedisBroker(client redis.UniversalClient, opts BrokerOptions) *RedisBroker {
	return &RedisBroker{client: client, opts: opts.withDefaults(), tr: newTracker(), done: make(chan struct{})}
}

const keyPrefix = "ql:rt:{"

func redisKeys(channel string) (head, hist, pub string) {
	tag := keyPrefix + channel + "}"
	return tag + ":head", tag + ":hist", tag
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, channel, typ string, data []byte) (Message, error) {
	if err := checkPublish(channel, typ); err != nil {
		return Message{}, err
	}
	if b.isClosed() {
		return Message{}, fmt.Errorf("realtime: publish %s: %w", channel, ErrClosed)
	}
	headKey, histKey, pub := redisKeys(channel)
	res, err := publishScript.Run(ctx, b.client, []string{headKey, histKey},
		pub, typ+"\n"+string(data), b.opts.HistorySize,
		b.opts.HistoryTTL.Milliseconds(), seqTTL.Milliseconds(), newEpoch()).Slice()
	if err != nil {
		return Message{}, fmt.Errorf("realtime: publish %s: %w", channel, err)
	}
	seq, ok1 := res[0].(int64)
	epoch, ok2 := res[1].(string)
	if len(res) != 2 || !ok1 || !ok2 || seq <= 0 {
		return Message{}, fmt.Errorf("realtime: publish %s: unexpected reply %v", channel, res)
	}
	return Message{Channel: channel, Epoch: epoch, Seq: uint64(seq), Type: typ, Data: append([]byte(nil), data...)}, nil
}

// decode parses "epoch\nseq\ntype\ndata".
func decode(channel, raw string) (Message, error) {
	epoch, rest, ok1 := strings.Cut(raw, "\n")
	seqStr, rest, ok2 := strings.Cut(rest, "\n")
	typ, data, ok3 := strings.Cut(rest, "\n")
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if !ok1 || !ok2 || !ok3 || err != nil {
		return Message{}, fmt.Errorf("realtime: malformed message on %s", channel)
	}
	return Message{Channel: channel, Epoch: epoch, Seq: seq, Type: typ, Data: []byte(data)}, nil
}

// History implements Broker.
func (b *RedisBroker) History(ctx context.Context, channel string, since Position) ([]Message, bool, error) {
	if b.isClosed() {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, ErrClosed)
	}
	headKey, histKey, _ := redisKeys(channel)
	res, err := historyScript.Run(ctx, b.client, []string{headKey, histKey}, since.Seq, since.Epoch).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, err)
	}
	var last int64
	var epoch string
	ok := len(res) >= 2
	if ok {
		last, ok = res[0].(int64)
		epoch, _ = res[1].(string)
	}
	if !ok || last < 0 {
		return nil, false, fmt.Errorf("realtime: history %s: unexpected reply %v", channel, res)
	}
	var raw []any
	if len(res) > 2 {
		raw, _ = res[2].([]any)
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
	msgs, complete := historyFrom(hist, since, Position{Epoch: epoch, Seq: uint64(last)})
	return msgs, complete, nil
}

// Head returns the channel's epoch and newest seq (the zero Position
// before its first message).
func (b *RedisBroker) Head(ctx context.Context, channel string) (Position, error) {
	if b.isClosed() {
		return Position{}, fmt.Errorf("realtime: head %s: %w", channel, ErrClosed)
	}
	headKey, _, _ := redisKeys(channel)
	vals, err := b.client.HMGet(ctx, headKey, "seq", "epoch").Result()
	if err != nil {
		return Position{}, fmt.Errorf("realtime: head %s: %w", channel, err)
	}
	seqStr, _ := vals[0].(string)
	epoch, _ := vals[1].(string)
	if seqStr == "" {
		return Position{}, nil
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("realtime: head %s: bad counter %q", channel, seqStr)
	}
	return Position{Epoch: epoch, Seq: seq}, nil
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
	// The head before SUBSCRIBE: everything after it reaches Run, live or
	// from the history once Redis confirms the subscription.
	base, err := b.Head(ctx, channel)
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
