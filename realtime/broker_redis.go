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
// every publish, and keeps each channel's counter and history in Redis.
//
// Keys of channel C: "ql:rt:{C}:head" (a hash: the counter "seq" and the
// "epoch" created with it, so they are lost together and a restarted
// counter is told apart), "ql:rt:{C}:hist" (list, newest first),
// "ql:rt:{C}:presence" (hash: node -> count and expiry) and the pub/sub
// channel "ql:rt:{C}". C begins with the tenant, and the hash tag {C}
// puts a channel's keys and its pub/sub channel in one Cluster slot, so
// the publish script, the history read and the shard that carries the
// channel are all single-slot.
//
// On a Cluster (a *redis.ClusterClient) the broker uses sharded pub/sub:
// SPUBLISH inside the publish script and SSUBSCRIBE on one PubSub
// connection per master, so a message travels only within its slot's
// shard instead of to every node of the Cluster. Elsewhere it uses
// PUBLISH/SUBSCRIBE on one connection.
//
// Subscribe records the channel's seq before it sends SUBSCRIBE; when Redis
// confirms a subscription (the first time, and again after go-redis
// reconnects and resubscribes), Run reads from the history what was
// published since then, so no message is lost between "subscribed" and the
// first live delivery, or across a reconnect.
type RedisBroker struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // set: sharded pub/sub
	opts    BrokerOptions
	tr      *tracker

	mu      sync.Mutex
	shards  map[string]*redis.PubSub // by master address ("" off a Cluster)
	shardOf map[string]*redis.PubSub // pub/sub channel -> its shard
	feed    chan any                 // every shard's messages and subscription confirmations
	closed  bool
	done    chan struct{}
}

// redisQueue is the size of go-redis's delivery buffer between the PubSub
// connection and Run.
const redisQueue = 4096

// publishScript assigns the next seq, records and broadcasts the message
// atomically (ARGV[7] names PUBLISH or SPUBLISH); a new counter gets the
// epoch offered. A counter created
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
redis.call(ARGV[7], ARGV[1], msg)
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
// caller's: Close does not close it. It should honour contexts' deadlines
// (redis.Options.ContextTimeoutEnabled, as cmd/server sets it): the hub
// bounds each publish by one, and without it a Redis that stopped
// answering holds a publish for the client's whole read timeout.
func NewRedisBroker(client redis.UniversalClient, opts BrokerOptions) *RedisBroker {
	cluster, _ := client.(*redis.ClusterClient)
	return &RedisBroker{
		client: client, cluster: cluster, opts: opts.withDefaults(), tr: newTracker(),
		shards: map[string]*redis.PubSub{}, shardOf: map[string]*redis.PubSub{},
		feed: make(chan any, redisQueue), done: make(chan struct{}),
	}
}

// publishCmd is the script's broadcast command.
func (b *RedisBroker) publishCmd() string {
	if b.cluster != nil {
		return "SPUBLISH"
	}
	return "PUBLISH"
}

const keyPrefix = "ql:rt:{"

func redisKeys(channel string) (head, hist, pub string) {
	tag := keyPrefix + channel + "}"
	return tag + ":head", tag + ":hist", tag
}

func presenceKey(channel string) string { return keyPrefix + channel + "}:presence" }

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
		b.opts.HistoryTTL.Milliseconds(), seqTTL.Milliseconds(), newEpoch(), b.publishCmd()).Slice()
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

// DropHistory implements Broker: the history list goes, the head (seq
// and epoch) stays.
func (b *RedisBroker) DropHistory(ctx context.Context, channel string) error {
	if b.isClosed() {
		return fmt.Errorf("realtime: drop history %s: %w", channel, ErrClosed)
	}
	_, histKey, _ := redisKeys(channel)
	if err := b.client.Del(ctx, histKey).Err(); err != nil {
		return fmt.Errorf("realtime: drop history %s: %w", channel, err)
	}
	return nil
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

// subscribe adds pub to the PubSub of its shard, opening that on first
// use with pub as its first channel: a Cluster PubSub connects to the
// master of its first channel's slot.
func (b *RedisBroker) subscribe(ctx context.Context, pub string) error {
	addr := ""
	if b.cluster != nil {
		master, err := b.cluster.MasterForKey(ctx, pub)
		if err != nil {
			return err
		}
		addr = master.Options().Addr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if ps := b.shards[addr]; ps != nil {
		b.shardOf[pub] = ps
		if b.cluster != nil {
			return ps.SSubscribe(ctx, pub)
		}
		return ps.Subscribe(ctx, pub)
	}
	// go-redis pings the PubSub, reconnects it and resubscribes its
	// channels on its own.
	var ps *redis.PubSub
	if b.cluster != nil {
		ps = b.cluster.SSubscribe(ctx, pub)
	} else {
		ps = b.client.Subscribe(ctx, pub)
	}
	b.shards[addr], b.shardOf[pub] = ps, ps
	go b.forward(ps.ChannelWithSubscriptions(redis.WithChannelSize(redisQueue)))
	return nil
}

// forward moves one shard's deliveries into the feed Run reads.
func (b *RedisBroker) forward(in <-chan any) {
	for v := range in {
		select {
		case b.feed <- v:
		case <-b.done:
			return
		}
	}
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string) error {
	if b.isClosed() {
		return fmt.Errorf("realtime: subscribe %s: %w", channel, ErrClosed)
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
	if err := b.subscribe(ctx, pub); err != nil {
		b.tr.stop(channel)
		_ = b.unsubscribe(context.WithoutCancel(ctx), pub) // go-redis would resubscribe it on reconnect
		return fmt.Errorf("realtime: subscribe %s: %w", channel, err)
	}
	return nil
}

// unsubscribe drops pub from its shard's PubSub.
func (b *RedisBroker) unsubscribe(ctx context.Context, pub string) error {
	b.mu.Lock()
	ps := b.shardOf[pub]
	delete(b.shardOf, pub)
	closed := b.closed
	b.mu.Unlock()
	if ps == nil || closed {
		return nil
	}
	if b.cluster != nil {
		return ps.SUnsubscribe(ctx, pub)
	}
	return ps.Unsubscribe(ctx, pub)
}

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, channel string) error {
	b.tr.stop(channel)
	_, _, pub := redisKeys(channel)
	if err := b.unsubscribe(ctx, pub); err != nil {
		return fmt.Errorf("realtime: unsubscribe %s: %w", channel, err)
	}
	return nil
}

// Run implements Broker.
func (b *RedisBroker) Run(ctx context.Context, h func(Message)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return nil
		case v := <-b.feed:
			switch v := v.(type) {
			case *redis.Subscription:
				// Confirmed, first time or after a reconnect: deliver
				// what was published while the subscription was not live.
				if v.Kind == "subscribe" || v.Kind == "ssubscribe" {
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

// presenceSetScript records node's count with an expiry by the server's
// clock; the key lives as long as its longest entry. KEYS: presence. ARGV: node,
// count, ttl (ms).
var presenceSetScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[3]) -- never shorten another node's entry
  end
end
return 1
`)

// presenceScript sums the entries that have not expired. KEYS: presence.
var presenceScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 2, #all, 2 do
  local n, exp = string.match(all[i], '^(%d+):(%d+)$')
  if n and tonumber(exp) > now then total = total + tonumber(n) end
end
return total
`)

// SetPresence implements Broker: one pipelined round trip for all of
// counts (a Cluster client splits it by slot).
func (b *RedisBroker) SetPresence(ctx context.Context, node string, counts map[string]int, ttl time.Duration) error {
	if b.isClosed() {
		return fmt.Errorf("realtime: set presence: %w", ErrClosed)
	}
	pipe := b.client.Pipeline()
	for ch, n := range counts {
		presenceSetScript.Eval(ctx, pipe, []string{presenceKey(ch)}, node, n, ttl.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("realtime: set presence: %w", err)
	}
	return nil
}

// Presence implements Broker.
func (b *RedisBroker) Presence(ctx context.Context, channel string) (int, error) {
	if b.isClosed() {
		return 0, fmt.Errorf("realtime: presence %s: %w", channel, ErrClosed)
	}
	n, err := presenceScript.Run(ctx, b.client, []string{presenceKey(channel)}).Int()
	if err != nil {
		return 0, fmt.Errorf("realtime: presence %s: %w", channel, err)
	}
	return n, nil
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

// Close implements Broker: it drops the node's PubSub connections and
// ends Run. The client stays open (it is shared).
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.done)
	var errs []error
	for _, ps := range b.shards {
		errs = append(errs, ps.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("realtime: close: %w", err)
	}
	return nil
}
