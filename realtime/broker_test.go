package realtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/redistest"
)

// brokerImpl is one Broker implementation under the conformance table.
type brokerImpl struct {
	name string
	// start prepares the implementation for the subtest t (the Redis one
	// starts a server, or skips) and returns its node factory.
	start func(t *testing.T) nodesFunc
	// lose publishes on channel so that live delivery loses messages
	// (they reach the history only) and returns how many it published.
	// The subscriber's Run is not running yet.
	lose func(t *testing.T, b Broker, channel string) int
	// reset makes the backend lose every channel's counter and history, as
	// a Redis restart without persistence or a FLUSHALL does (for the
	// memory broker: a channel forgotten after seqTTL).
	reset func(t *testing.T, b Broker)
}

// nodesFunc returns the brokers of one cluster, closed when t ends: the
// memory broker is one node; two Redis brokers on one Redis are two.
type nodesFunc func(t *testing.T, opts BrokerOptions) []Broker

var brokerImpls = []brokerImpl{
	{
		name: "memory",
		start: func(*testing.T) nodesFunc {
			return func(t *testing.T, opts BrokerOptions) []Broker {
				b := NewMemoryBroker(opts)
				t.Cleanup(func() { _ = b.Close() })
				return []Broker{b}
			}
		},
		lose: func(t *testing.T, b Broker, channel string) int {
			// Overflow the delivery queue: Publish never blocks, the
			// overflow stays in the history only.
			n := memoryQueue + 5
			for range n {
				mustPublish(t, b, channel, "x", `{}`)
			}
			return n
		},
		reset: func(_ *testing.T, b Broker) {
			mb := b.(*MemoryBroker)
			mb.mu.Lock()
			defer mb.mu.Unlock()
			clear(mb.channels)
		},
	},
	redisImpl("redis", func(t *testing.T) func(t *testing.T) redis.UniversalClient {
		url := redistest.URL(t) // one server for every case
		return func(t *testing.T) redis.UniversalClient {
			o, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(o)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}),
	redisImpl("cluster", func(t *testing.T) func(t *testing.T) redis.UniversalClient {
		c := redistest.Cluster(t) // one Cluster for every case
		return func(*testing.T) redis.UniversalClient { return c }
	}),
}

// flushAll empties a standalone server or every master of a Cluster.
func flushAll(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.FlushAll(ctx).Err() })
	}
	return c.FlushAll(ctx).Err()
}

// redisImpl is the Redis broker on what connect gives: two brokers on one
// client are two nodes.
func redisImpl(name string, connect func(t *testing.T) func(t *testing.T) redis.UniversalClient) brokerImpl {
	return brokerImpl{
		name: name,
		start: func(t *testing.T) nodesFunc {
			client := connect(t)
			return func(t *testing.T, opts BrokerOptions) []Broker {
				c := client(t)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := flushAll(ctx, c); err != nil {
					t.Fatal(err)
				}
				a, b := NewRedisBroker(c, opts), NewRedisBroker(c, opts)
				t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
				return []Broker{a, b}
			}
		},
		lose: func(t *testing.T, b Broker, channel string) int {
			// What a dropped pub/sub message leaves behind: counter and
			// history advanced, nothing published.
			rb := b.(*RedisBroker)
			headKey, histKey, _ := redisKeys(channel)
			lost := redis.NewScript(`
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('LPUSH', KEYS[2], epoch .. '\n' .. seq .. '\n' .. ARGV[1])
return seq`)
			for range 5 {
				if err := lost.Run(context.Background(), rb.client, []string{headKey, histKey}, "x\n{}", newEpoch()).Err(); err != nil {
					t.Fatal(err)
				}
			}
			return 5
		},
		reset: func(t *testing.T, b Broker) {
			if err := flushAll(context.Background(), b.(*RedisBroker).client); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func mustPublish(t *testing.T, b Broker, channel, typ, data string) Message {
	t.Helper()
	m, err := b.Publish(context.Background(), channel, typ, []byte(data))
	if err != nil {
		t.Fatalf("publish %s: %v", channel, err)
	}
	return m
}

// collector runs a broker's delivery loop and records what arrives.
type collector struct {
	mu  sync.Mutex
	got []Message
}

func collect(t *testing.T, b Broker) *collector {
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Run(ctx, func(m Message) {
			c.mu.Lock()
			c.got = append(c.got, m)
			c.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (c *collector) snapshot() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.got...)
}

// exactly waits for n deliveries, then checks no more arrive for a moment.
func (c *collector) exactly(t *testing.T, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.snapshot()) < n {
		if time.Now().After(deadline) {
			got := c.snapshot()
			t.Fatalf("got %d messages, want %d: %s", len(got), n, brief(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := c.snapshot()
	if len(got) != n {
		t.Fatalf("got %d messages, want exactly %d: %s", len(got), n, brief(got))
	}
	return got
}

// brief shows a delivery list short enough to read.
func brief(msgs []Message) string {
	show := func(ms []Message) string {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%s#%d ", m.Channel, m.Seq)
		}
		return b.String()
	}
	if len(msgs) <= 12 {
		return show(msgs)
	}
	return show(msgs[:6]) + "... " + show(msgs[len(msgs)-6:])
}

// inOrder checks msgs are seq from..from+len-1 of channel.
func inOrder(t *testing.T, msgs []Message, channel string, from uint64) {
	t.Helper()
	for i, m := range msgs {
		if m.Channel != channel || m.Seq != from+uint64(i) {
			t.Fatalf("delivery %d = %s#%d, want %s#%d", i, m.Channel, m.Seq, channel, from+uint64(i))
		}
	}
}

// TestBrokerConformance runs one table against every Broker.
func TestBrokerConformance(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, nodes nodesFunc, impl brokerImpl)
	}{
		{"seq starts at 1 per channel and has no gaps", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			for i := 1; i <= 5; i++ {
				m := mustPublish(t, nodes[i%len(nodes)], "t|user:a", "points", `{"n":1}`)
				if m.Seq != uint64(i) || m.Channel != "t|user:a" || m.Type != "points" || string(m.Data) != `{"n":1}` {
					t.Fatalf("publish %d = %+v", i, m)
				}
			}
			if m := mustPublish(t, nodes[0], "t|user:b", "points", `{}`); m.Seq != 1 {
				t.Fatalf("another channel starts at %d", m.Seq)
			}
			if m := mustPublish(t, nodes[0], "u|user:a", "points", `{}`); m.Seq != 1 {
				t.Fatalf("another tenant's channel starts at %d", m.Seq)
			}
		}},
		{"head", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			for _, b := range nodes {
				if p, err := b.(header).Head(ctx, "t|c"); err != nil || p != (Position{}) {
					t.Fatalf("head of a new channel = %+v, %v", p, err)
				}
			}
			var m Message
			for range 3 {
				m = mustPublish(t, nodes[0], "t|c", "x", `{}`)
			}
			if len(m.Epoch) != 16 {
				t.Fatalf("epoch %q", m.Epoch)
			}
			for _, b := range nodes {
				if p, err := b.(header).Head(ctx, "t|c"); err != nil || p != (Position{Epoch: m.Epoch, Seq: 3}) {
					t.Fatalf("head = %+v, %v; want epoch %s seq 3", p, err, m.Epoch)
				}
			}
		}},
		{"history since", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{HistorySize: 10})
			for i := 1; i <= 4; i++ {
				mustPublish(t, nodes[0], "t|c", "x", fmt.Sprintf("{\"i\":\n%d}", i))
			}
			b := nodes[len(nodes)-1]
			msgs, complete, err := b.History(ctx, "t|c", Position{Seq: 2})
			if err != nil || !complete || len(msgs) != 2 {
				t.Fatalf("history = %+v complete %v err %v", msgs, complete, err)
			}
			inOrder(t, msgs, "t|c", 3)
			if msgs[1].Type != "x" || string(msgs[1].Data) != "{\"i\":\n4}" {
				t.Fatalf("message not kept byte for byte: %+v", msgs[1])
			}
			if msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 0}); !complete || len(msgs) != 4 {
				t.Fatalf("whole history = %+v %v", msgs, complete)
			}
			if msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 4}); len(msgs) != 0 || !complete {
				t.Fatalf("up to date: %+v %v", msgs, complete)
			}
			if _, complete, _ := b.History(ctx, "t|c", Position{Seq: 9}); complete {
				t.Fatal("since beyond the last seq reported complete")
			}
			if msgs, complete, _ := b.History(ctx, "t|empty", Position{Seq: 0}); len(msgs) != 0 || !complete {
				t.Fatalf("empty channel: %+v %v", msgs, complete)
			}
			if _, complete, _ := b.History(ctx, "t|empty", Position{Seq: 3}); complete {
				t.Fatal("since on an empty channel reported complete")
			}
		}},
		{"history is trimmed to HistorySize", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			b := newNodes(t, BrokerOptions{HistorySize: 3})[0]
			for range 6 {
				mustPublish(t, b, "t|c", "x", `{}`)
			}
			msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 1})
			if complete || len(msgs) != 3 {
				t.Fatalf("trimmed history = %+v complete %v", msgs, complete)
			}
			inOrder(t, msgs, "t|c", 4)
			if msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 3}); !complete || len(msgs) != 3 {
				t.Fatalf("history from the oldest kept = %+v complete %v", msgs, complete)
			}
		}},
		{"history expires after HistoryTTL, the seq goes on", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			b := newNodes(t, BrokerOptions{HistoryTTL: 100 * time.Millisecond})[0]
			for range 3 {
				mustPublish(t, b, "t|c", "x", `{}`)
			}
			time.Sleep(250 * time.Millisecond)
			if msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 1}); complete || len(msgs) != 0 {
				t.Fatalf("expired history = %+v complete %v", msgs, complete)
			}
			if _, complete, _ := b.History(ctx, "t|c", Position{Seq: 3}); !complete {
				t.Fatal("a client that saw everything is told of a gap")
			}
			if m := mustPublish(t, b, "t|c", "x", `{}`); m.Seq != 4 {
				t.Fatalf("seq after expiry = %d, want 4", m.Seq)
			}
			if msgs, complete, _ := b.History(ctx, "t|c", Position{Seq: 3}); !complete || len(msgs) != 1 || msgs[0].Seq != 4 {
				t.Fatalf("history after expiry = %+v %v", msgs, complete)
			}
		}},
		{"DropHistory forgets one channel's messages, the seq goes on", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			for range 3 {
				mustPublish(t, nodes[0], "t|user:a", "points", `{"n":1}`)
			}
			mustPublish(t, nodes[0], "t|user:b", "points", `{}`)
			b := nodes[len(nodes)-1]
			for range 2 { // a repeat is harmless
				if err := b.DropHistory(ctx, "t|user:a"); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.DropHistory(ctx, "t|never"); err != nil {
				t.Fatalf("drop of a channel without history: %v", err)
			}
			if msgs, complete, err := b.History(ctx, "t|user:a", Position{}); err != nil || complete || len(msgs) != 0 {
				t.Fatalf("history after the drop = %+v complete %v err %v", msgs, complete, err)
			}
			if _, complete, _ := b.History(ctx, "t|user:a", Position{Seq: 3}); !complete {
				t.Fatal("a client that saw everything is told of a gap")
			}
			if msgs, _, _ := b.History(ctx, "t|user:b", Position{}); len(msgs) != 1 {
				t.Fatalf("another channel's history = %+v, want its message", msgs)
			}
			if m := mustPublish(t, nodes[0], "t|user:a", "points", `{}`); m.Seq != 4 {
				t.Fatalf("seq after the drop = %d, want 4", m.Seq)
			}
			if msgs, complete, _ := b.History(ctx, "t|user:a", Position{Seq: 3}); !complete || len(msgs) != 1 || msgs[0].Seq != 4 {
				t.Fatalf("history after a new publish = %+v %v", msgs, complete)
			}
		}},
		{"a publish right after Subscribe reaches every subscribed node", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			var cs []*collector
			for _, b := range nodes {
				cs = append(cs, collect(t, b))
				if err := b.Subscribe(ctx, "t|c"); err != nil {
					t.Fatal(err)
				}
			}
			// No probing: Subscribe returned, so this one must arrive.
			mustPublish(t, nodes[0], "t|c", "progress", `{"a":1}`)
			for i := range 3 {
				mustPublish(t, nodes[i%len(nodes)], "t|c", "progress", `{"a":1}`)
			}
			mustPublish(t, nodes[0], "t|other", "progress", `{}`)
			for _, c := range cs {
				got := c.exactly(t, 4)
				inOrder(t, got, "t|c", 1)
				if got[0].Type != "progress" || string(got[0].Data) != `{"a":1}` {
					t.Fatalf("delivered %+v", got[0])
				}
			}
		}},
		{"subscribing starts at the current seq; unsubscribe stops delivery", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			pub, sub := nodes[0], nodes[len(nodes)-1]
			mustPublish(t, pub, "t|c", "x", `{}`) // before: never delivered
			c := collect(t, sub)
			if err := sub.Subscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			if err := sub.Subscribe(ctx, "t|c"); err != nil { // idempotent
				t.Fatal(err)
			}
			mustPublish(t, pub, "t|c", "x", `{}`)
			inOrder(t, c.exactly(t, 1), "t|c", 2)
			if err := sub.Unsubscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			mustPublish(t, pub, "t|c", "x", `{}`) // seq 3: not delivered
			time.Sleep(100 * time.Millisecond)
			if err := sub.Subscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			mustPublish(t, pub, "t|c", "x", `{}`)
			got := c.exactly(t, 2)
			if got[1].Seq != 4 {
				t.Fatalf("after resubscribing got %+v, want seq 4 only", got[1:])
			}
		}},
		{"deliveries lost in transit are read back from the history", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{HistorySize: 50})
			pub, sub := nodes[0], nodes[len(nodes)-1]
			if err := sub.Subscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			n := impl.lose(t, pub, "t|c")
			c := collect(t, sub)
			mustPublish(t, pub, "t|c", "x", `{}`)
			inOrder(t, c.exactly(t, n+1), "t|c", 1)
		}},
		{"concurrent publishes get unique consecutive seqs, delivered in order", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{HistorySize: 500})
			sub := nodes[len(nodes)-1]
			c := collect(t, sub)
			if err := sub.Subscribe(ctx, "t|hot"); err != nil {
				t.Fatal(err)
			}
			const n = 200
			var wg sync.WaitGroup
			seen := make(chan uint64, n)
			for i := range n {
				wg.Go(func() {
					m, err := nodes[i%len(nodes)].Publish(ctx, "t|hot", "x", []byte(`{}`))
					if err != nil {
						t.Error(err)
					}
					seen <- m.Seq
				})
			}
			wg.Wait()
			close(seen)
			got := map[uint64]bool{}
			for s := range seen {
				got[s] = true
			}
			for i := uint64(1); i <= n; i++ {
				if !got[i] {
					t.Fatalf("seq %d missing (%d unique)", i, len(got))
				}
			}
			inOrder(t, c.exactly(t, n), "t|hot", 1)
		}},
		{"a lost counter restarts in a new epoch, whose history is not the old one's", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			var old Message
			for range 3 {
				old = mustPublish(t, nodes[0], "t|c", "x", `{}`)
			}
			impl.reset(t, nodes[0])
			m := mustPublish(t, nodes[0], "t|c", "x", `{"new":1}`)
			if m.Seq != 1 || m.Epoch == "" || m.Epoch == old.Epoch {
				t.Fatalf("after the reset: %+v (old epoch %s)", m, old.Epoch)
			}
			for _, b := range nodes {
				msgs, complete, err := b.History(ctx, "t|c", Position{Epoch: old.Epoch, Seq: 3})
				if err != nil || complete || len(msgs) != 1 || msgs[0].Epoch != m.Epoch || string(msgs[0].Data) != `{"new":1}` {
					t.Fatalf("history since the old epoch = %+v complete %v err %v", msgs, complete, err)
				}
				// Same seq, old epoch: still not up to date.
				if _, complete, _ := b.History(ctx, "t|c", Position{Epoch: old.Epoch, Seq: 1}); complete {
					t.Fatal("a position of the old epoch reported complete")
				}
				if msgs, complete, _ := b.History(ctx, "t|c", Position{Epoch: m.Epoch}); !complete || len(msgs) != 1 {
					t.Fatalf("history of the new epoch = %+v %v", msgs, complete)
				}
				if p, err := b.(header).Head(ctx, "t|c"); err != nil || p != (Position{Epoch: m.Epoch, Seq: 1}) {
					t.Fatalf("head after the reset = %+v %v", p, err)
				}
			}
		}},
		{"a subscribed node delivers a new epoch's messages, however low their seqs", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			pub, sub := nodes[0], nodes[len(nodes)-1]
			c := collect(t, sub)
			if err := sub.Subscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				mustPublish(t, pub, "t|c", "x", `{}`)
			}
			c.exactly(t, 3)
			impl.reset(t, pub)
			for range 2 {
				mustPublish(t, pub, "t|c", "x", `{}`)
			}
			got := c.exactly(t, 5)
			inOrder(t, got[:3], "t|c", 1)
			inOrder(t, got[3:], "t|c", 1)
			if got[3].Epoch == got[2].Epoch || got[3].Epoch != got[4].Epoch {
				t.Fatalf("epochs %s %s %s", got[2].Epoch, got[3].Epoch, got[4].Epoch)
			}
		}},
		{"bad input is refused", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			b := newNodes(t, BrokerOptions{})[0]
			for _, typ := range []string{"", "two\nlines"} {
				if _, err := b.Publish(ctx, "t|c", typ, []byte(`{}`)); err == nil {
					t.Fatalf("type %q accepted", typ)
				}
			}
		}},
		{"Run ends with its context and with Close; a closed broker refuses", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			b := newNodes(t, BrokerOptions{})[0]
			if err := b.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- b.Run(rctx, func(Message) {}) }()
			cancel()
			if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run after cancel = %v", err)
			}
			go func() { done <- b.Run(ctx, func(Message) {}) }()
			time.Sleep(20 * time.Millisecond)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if err := waitErr(t, done); err != nil {
				t.Fatalf("Run after Close = %v", err)
			}
			if _, err := b.Publish(ctx, "t|c", "x", []byte(`{}`)); !errors.Is(err, ErrClosed) {
				t.Fatalf("publish after Close = %v", err)
			}
			if err := b.Subscribe(ctx, "t|c"); !errors.Is(err, ErrClosed) {
				t.Fatalf("subscribe after Close = %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
		}},
		{"presence sums live nodes and forgets expired ones", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			a, b := nodes[0], nodes[len(nodes)-1]
			if err := a.SetPresence(ctx, "n1", map[string]int{"t|quiz:q": 3, "t|leaderboard:b": 1}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := b.SetPresence(ctx, "n2", map[string]int{"t|quiz:q": 2}, 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			want := func(ch string, n int) {
				t.Helper()
				for _, br := range nodes {
					if got, err := br.Presence(ctx, ch); err != nil || got != n {
						t.Fatalf("presence %s = %d, %v; want %d", ch, got, err, n)
					}
				}
			}
			want("t|quiz:q", 5)
			want("t|leaderboard:b", 1)
			want("u|quiz:q", 0)
			time.Sleep(300 * time.Millisecond) // n2's entry expires
			want("t|quiz:q", 3)
			if err := a.SetPresence(ctx, "n1", map[string]int{"t|quiz:q": 0}, time.Minute); err != nil {
				t.Fatal(err)
			}
			want("t|quiz:q", 0)
		}},
		{"channels of many tenants, spread over slots, all delivered", func(t *testing.T, newNodes nodesFunc, impl brokerImpl) {
			nodes := newNodes(t, BrokerOptions{})
			sub := nodes[len(nodes)-1]
			c := collect(t, sub)
			const n = 40
			for i := range n {
				if err := sub.Subscribe(ctx, fmt.Sprintf("t%d|leaderboard:b", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				mustPublish(t, nodes[0], fmt.Sprintf("t%d|leaderboard:b", i), "x", `{}`)
			}
			got := c.exactly(t, n)
			seen := map[string]bool{}
			for _, m := range got {
				seen[m.Channel] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct channels of %d: %s", len(seen), n, brief(got))
			}
		}},
	}
	for _, impl := range brokerImpls {
		t.Run(impl.name, func(t *testing.T) {
			newNodes := impl.start(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newNodes, impl) })
			}
		})
	}
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestRedisBrokerReconnect: when the PubSub connection drops, go-redis
// resubscribes and the broker reads back from the history what was
// published meanwhile, so deliveries stay gap-free.
func TestRedisBrokerReconnect(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	pub, sub := NewRedisBroker(client, BrokerOptions{}), NewRedisBroker(client, BrokerOptions{})
	t.Cleanup(func() { _ = pub.Close(); _ = sub.Close() })
	c := collect(t, sub)
	if err := sub.Subscribe(ctx, "t|c"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, pub, "t|c", "x", `{}`)
	c.exactly(t, 1)
	for round := range 3 {
		if err := client.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		for range 5 { // some of these race the reconnect
			mustPublish(t, pub, "t|c", "x", `{}`)
		}
		inOrder(t, c.exactly(t, 1+5*(round+1)), "t|c", 1)
	}
}
