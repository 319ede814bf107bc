package realtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBroker spreads messages over Redis pub/sub so every node's hub sees
// every publish, and keeps each channel's history in a Redis list.
//
// Keys of one channel share a hash tag, so the Lua script that publishes
// touches one Cluster slot. Plain PUBLISH reaches every Cluster node; a
// later step may move to sharded pub/sub (SPUBLISH) to keep fan-out local
// to the slot's shard.
type RedisBroker struct {
	client redis.UniversalClient
	opts   BrokerOptions

	mu     sync.Mutex
	pubsub *redis.PubSub
}

// seqTTL keeps a channel's counter well beyond its history, so a client
// resuming after the history expired is told of the gap instead of
// matching a counter that restarted at 1.
const seqTTL = 7 * 24 * time.Hour

// publishScript assigns the next seq and records and broadcasts the
// message atomically: KEYS = seq, history; ARGV = pubsub channel, type,
// data, history size, history TTL (ms), seq TTL (ms).
var publishScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local msg = seq .. '\n' .. ARGV[2] .. '\n' .. ARGV[3]
redis.call('LPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[1], msg)
return seq
`)

// NewRedisBroker returns a broker on client.
func NewRedisBroker(client redis.UniversalClient, opts BrokerOptions) *RedisBroker {
	return &RedisBroker{client: client, opts: opts.withDefaults()}
}

func keys(channel string) (seq, hist, pub string) {
	tag := "ql:rt:{" + channel + "}"
	return tag + ":seq", tag + ":hist", tag
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, channel, typ string, data []byte) (Message, error) {
	if strings.ContainsRune(typ, '\n') {
		return Message{}, fmt.Errorf("realtime: publish %s: type %q has a newline", channel, typ)
	}
	seqKey, histKey, pub := keys(channel)
	seq, err := publishScript.Run(ctx, b.client, []string{seqKey, histKey},
		pub, typ, data, b.opts.HistorySize, b.opts.HistoryTTL.Milliseconds(), seqTTL.Milliseconds()).Uint64()
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
	seqKey, histKey, _ := keys(channel)
	var seqCmd *redis.StringCmd
	var histCmd *redis.StringSliceCmd
	// Both keys share a slot, so this pipeline is one round trip on Cluster too.
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		seqCmd = p.Get(ctx, seqKey)
		histCmd = p.LRange(ctx, histKey, 0, -1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, err)
	}
	last, _ := seqCmd.Uint64() // absent counter: nothing was published
	raw := histCmd.Val()
	hist := make([]Message, 0, len(raw))
	for i := len(raw) - 1; i >= 0; i-- { // LPUSH keeps newest first
		m, err := decode(channel, raw[i])
		if err != nil {
			return nil, false, err
		}
		hist = append(hist, m)
	}
	msgs, complete := historyFrom(hist, since, last)
	return msgs, complete, nil
}

func (b *RedisBroker) pubSub(ctx context.Context) *redis.PubSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pubsub == nil {
		b.pubsub = b.client.Subscribe(ctx)
	}
	return b.pubsub
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string) error {
	_, _, pub := keys(channel)
	if err := b.pubSub(ctx).Subscribe(ctx, pub); err != nil {
		return fmt.Errorf("realtime: subscribe %s: %w", channel, err)
	}
	return nil
}

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, channel string) error {
	_, _, pub := keys(channel)
	if err := b.pubSub(ctx).Unsubscribe(ctx, pub); err != nil {
		return fmt.Errorf("realtime: unsubscribe %s: %w", channel, err)
	}
	return nil
}

// Run implements Broker. go-redis resubscribes after a reconnect; what was
// published while the connection was down reaches clients through resume.
func (b *RedisBroker) Run(ctx context.Context, h func(Message)) error {
	ch := b.pubSub(ctx).Channel(redis.WithChannelSize(4096))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			channel := strings.TrimSuffix(strings.TrimPrefix(m.Channel, "ql:rt:{"), "}")
			msg, err := decode(channel, m.Payload)
			if err != nil {
				continue
			}
			h(msg)
		}
	}
}

// Ping implements Broker.
func (b *RedisBroker) Ping(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("realtime: redis ping: %w", err)
	}
	return nil
}

// Close implements Broker; the client stays open (it is shared).
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pubsub == nil {
		return nil
	}
	err := b.pubsub.Close()
	b.pubsub = nil
	return err
}
