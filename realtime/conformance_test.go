package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/internal/redistest"
)

func TestMemoryBroker(t *testing.T) {
	runBrokerConformance(t, func(t *testing.T, opts BrokerOptions) []Broker {
		b := NewMemoryBroker(opts)
		t.Cleanup(func() { _ = b.Close() })
		return []Broker{b}
	})
}

func TestRedisBroker(t *testing.T) {
	runBrokerConformance(t, func(t *testing.T, opts BrokerOptions) []Broker {
		c := redistest.Client(t)
		// Two brokers on one Redis are two nodes.
		a, b := NewRedisBroker(c, opts), NewRedisBroker(c, opts)
		t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
		return []Broker{a, b}
	})
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

func (c *collector) wait(t *testing.T, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]Message(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscribed waits until a subscription is live (Redis confirms
// asynchronously), by publishing probes until one arrives.
func subscribed(t *testing.T, pub Broker, c *collector, channel string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := pub.Publish(context.Background(), channel, "probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		c.mu.Lock()
		n := len(c.got)
		c.mu.Unlock()
		if n > 0 {
			c.mu.Lock()
			c.got = nil
			c.mu.Unlock()
			return
		}
	}
	t.Fatal("subscription never delivered")
}

func runBrokerConformance(t *testing.T, newBrokers func(t *testing.T, opts BrokerOptions) []Broker) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"seq starts at 1 and has no gaps", func(t *testing.T) {
			b := newBrokers(t, BrokerOptions{})[0]
			for i := 1; i <= 5; i++ {
				m, err := b.Publish(ctx, "t|user:a", "points", []byte(`{"n":1}`))
				if err != nil || m.Seq != uint64(i) {
					t.Fatalf("publish %d: seq %d, %v", i, m.Seq, err)
				}
			}
			m, _ := b.Publish(ctx, "t|user:b", "points", []byte(`{}`))
			if m.Seq != 1 {
				t.Fatalf("another channel starts at %d", m.Seq)
			}
		}},
		{"history since", func(t *testing.T) {
			b := newBrokers(t, BrokerOptions{HistorySize: 10})[0]
			for i := 1; i <= 4; i++ {
				_, _ = b.Publish(ctx, "t|c", "x", fmt.Appendf(nil, `{"i":%d}`, i))
			}
			msgs, complete, err := b.History(ctx, "t|c", 2)
			if err != nil || !complete || len(msgs) != 2 || msgs[0].Seq != 3 || msgs[1].Seq != 4 || string(msgs[1].Data) != `{"i":4}` || msgs[0].Type != "x" {
				t.Fatalf("history = %+v complete %v err %v", msgs, complete, err)
			}
			if msgs, complete, _ := b.History(ctx, "t|c", 4); len(msgs) != 0 || !complete {
				t.Fatalf("up to date: %+v %v", msgs, complete)
			}
			if _, complete, _ := b.History(ctx, "t|c", 9); complete {
				t.Fatal("since beyond the last seq reported complete")
			}
			if msgs, complete, _ := b.History(ctx, "t|empty", 0); len(msgs) != 0 || !complete {
				t.Fatalf("empty channel: %+v %v", msgs, complete)
			}
		}},
		{"history trimmed", func(t *testing.T) {
			b := newBrokers(t, BrokerOptions{HistorySize: 3})[0]
			for range 6 {
				_, _ = b.Publish(ctx, "t|c", "x", []byte(`{}`))
			}
			msgs, complete, _ := b.History(ctx, "t|c", 1)
			if complete || len(msgs) != 3 || msgs[0].Seq != 4 {
				t.Fatalf("trimmed history = %+v complete %v", msgs, complete)
			}
			if msgs, complete, _ := b.History(ctx, "t|c", 3); !complete || len(msgs) != 3 {
				t.Fatalf("history from the oldest kept = %+v complete %v", msgs, complete)
			}
		}},
		{"delivery to every subscribed node", func(t *testing.T) {
			bs := newBrokers(t, BrokerOptions{})
			pub, sub := bs[0], bs[len(bs)-1]
			c := collect(t, sub)
			if err := sub.Subscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			subscribed(t, pub, c, "t|c")
			for range 3 {
				_, _ = pub.Publish(ctx, "t|c", "progress", []byte(`{"a":1}`))
			}
			_, _ = pub.Publish(ctx, "t|other", "progress", []byte(`{}`))
			got := c.wait(t, 3)
			for i := 1; i < len(got); i++ {
				if got[i].Seq != got[i-1].Seq+1 || got[i].Channel != "t|c" || got[i].Type != "progress" {
					t.Fatalf("deliveries out of order or mixed: %+v", got)
				}
			}
			time.Sleep(50 * time.Millisecond)
			if got := c.wait(t, 3); len(got) != 3 {
				t.Fatalf("unsubscribed channel delivered: %+v", got)
			}
			if err := sub.Unsubscribe(ctx, "t|c"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			_, _ = pub.Publish(ctx, "t|c", "progress", []byte(`{}`))
			time.Sleep(100 * time.Millisecond)
			if got := c.wait(t, 3); len(got) != 3 {
				t.Fatalf("delivered after unsubscribe: %+v", got)
			}
		}},
		{"concurrent publishes get unique consecutive seqs", func(t *testing.T) {
			bs := newBrokers(t, BrokerOptions{HistorySize: 500})
			var wg sync.WaitGroup
			seen := make(chan uint64, 200)
			for i := range 200 {
				wg.Go(func() {
					m, err := bs[i%len(bs)].Publish(ctx, "t|hot", "x", []byte(`{}`))
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
			for i := uint64(1); i <= 200; i++ {
				if !got[i] {
					t.Fatalf("seq %d missing (%d unique)", i, len(got))
				}
			}
		}},
		{"ping", func(t *testing.T) {
			if err := newBrokers(t, BrokerOptions{})[0].Ping(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}
