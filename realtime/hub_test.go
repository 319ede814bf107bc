package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingBroker is a real MemoryBroker that counts the hub's
// Subscribe/Unsubscribe calls per channel.
type countingBroker struct {
	*MemoryBroker
	mu    sync.Mutex
	subs  map[string]int
	unsub map[string]int
}

func newCountingBroker() *countingBroker {
	return &countingBroker{MemoryBroker: NewMemoryBroker(BrokerOptions{}), subs: map[string]int{}, unsub: map[string]int{}}
}

func (b *countingBroker) Subscribe(ctx context.Context, ch string) error {
	b.mu.Lock()
	b.subs[ch]++
	b.mu.Unlock()
	return b.MemoryBroker.Subscribe(ctx, ch)
}

func (b *countingBroker) Unsubscribe(ctx context.Context, ch string) error {
	b.mu.Lock()
	b.unsub[ch]++
	b.mu.Unlock()
	return b.MemoryBroker.Unsubscribe(ctx, ch)
}

func (b *countingBroker) counts(ch string) (subs, unsubs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs[ch], b.unsub[ch]
}

func (b *countingBroker) waitCounts(t *testing.T, ch string, subs, unsubs int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, u := b.counts(ch)
		if s == subs && u == unsubs {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d subscribes, %d unsubscribes; want %d, %d", ch, s, u, subs, unsubs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHubRefcountsBrokerSubscriptions: the node subscribes the broker to a
// channel once, however many local connections share it, and unsubscribes
// when the last one leaves.
func TestHubRefcountsBrokerSubscriptions(t *testing.T) {
	b := newCountingBroker()
	n := startNode(t, b, HubOptions{})
	const board = "acme|leaderboard:b1"
	alice, _ := n.connect(t, "acme/alice", "")
	bob, _ := n.connect(t, "acme/bob", "")
	alice2, _ := n.connect(t, "acme/alice", "") // a second device
	if n.hub.Connections() != 3 {
		t.Fatalf("%d connections", n.hub.Connections())
	}
	b.waitCounts(t, "acme|user:alice", 1, 0)
	for _, c := range []struct {
		name string
		conn interface {
			WriteJSON(any) error
		}
	}{{"alice", alice}, {"bob", bob}} {
		if err := c.conn.WriteJSON(map[string]string{"op": "subscribe", "channel": "leaderboard:b1"}); err != nil {
			t.Fatal(err)
		}
	}
	if f := read(t, alice); f.Type != "subscribed" {
		t.Fatal(f)
	}
	if f := read(t, bob); f.Type != "subscribed" {
		t.Fatal(f)
	}
	b.waitCounts(t, board, 1, 0)

	send(t, alice, map[string]string{"op": "unsubscribe", "channel": "leaderboard:b1"})
	read(t, alice)
	b.waitCounts(t, board, 1, 0) // bob still there
	_ = n.hub.Publish(context.Background(), "acme", "leaderboard:b1", "leaderboard.top", []int{1})
	if f := read(t, bob); f.Channel != "leaderboard:b1" {
		t.Fatalf("bob got %+v", f)
	}
	quiet(t, alice)

	bob.Close()
	b.waitCounts(t, board, 1, 1)
	b.waitCounts(t, "acme|user:bob", 1, 1)
	alice.Close()
	waitConnections(t, n.hub, 1)
	b.waitCounts(t, "acme|user:alice", 1, 0) // the second device stays
	publishUser(t, n, "acme", "alice", 1)
	if f := read(t, alice2); f.Seq != 1 {
		t.Fatalf("second device got %+v", f)
	}
	alice2.Close()
	b.waitCounts(t, "acme|user:alice", 1, 1)
	waitConnections(t, n.hub, 0)
}

// plainBroker hides LastSeq: the hub must work with any Broker.
type plainBroker struct{ Broker }

func TestHubWithoutLastSeq(t *testing.T) {
	n := startNode(t, plainBroker{NewMemoryBroker(BrokerOptions{})}, HubOptions{})
	for i := 1; i <= 3; i++ {
		publishUser(t, n, "acme", "alice", i)
	}
	c, f := n.connect(t, "acme/alice", "")
	if f.Seq != 3 {
		t.Fatalf("subscribed = %+v, want seq 3", f)
	}
	publishUser(t, n, "acme", "alice", 4)
	if f := read(t, c); f.Seq != 4 {
		t.Fatalf("push = %+v", f)
	}
}

// TestHubConcurrentTraffic: clients leaving and resuming while publishes
// run never see a gap or a repeat.
func TestHubConcurrentTraffic(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{HistorySize: 1000}), HubOptions{})
	ctx := context.Background()
	const total, clients = 300, 4
	var ready, wg sync.WaitGroup
	ready.Add(clients)
	wg.Go(func() {
		ready.Wait() // every client is subscribed: all of them see the race
		for i := 1; i <= total; i++ {
			_ = n.hub.Publish(ctx, "acme", "leaderboard:hot", "leaderboard.top", []int{i})
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	for k := range clients {
		c := n.dial(t, fmt.Sprintf("acme/u%d", k), "")
		wg.Go(func() {
			readyOnce := sync.OnceFunc(ready.Done)
			defer readyOnce()
			if err := clientRun(c, total, readyOnce); err != nil {
				t.Errorf("client %d: %v", k, err)
			}
		})
	}
	wg.Wait()
}

// clientRun subscribes to leaderboard:hot, reads until seq total, leaving
// and resuming with since once a third of the way, and checks every seq
// arrives exactly once in order.
func clientRun(c interface {
	WriteJSON(any) error
	ReadJSON(any) error
	SetReadDeadline(time.Time) error
}, total uint64, subscribed func()) error {
	next := func() (frame, error) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f frame
		return f, c.ReadJSON(&f)
	}
	if err := c.WriteJSON(map[string]any{"op": "subscribe", "channel": "leaderboard:hot"}); err != nil {
		return err
	}
	var last uint64
	started, resumed := false, false
	for last < total {
		f, err := next()
		if err != nil {
			return fmt.Errorf("after seq %d: %w", last, err)
		}
		if f.Channel != "leaderboard:hot" {
			continue // the user channel's "subscribed"
		}
		switch f.Type {
		case "subscribed":
			if !started {
				started, last = true, f.Seq
				subscribed()
			}
		case "leaderboard.top":
			if f.Seq != last+1 {
				return fmt.Errorf("seq %d after %d", f.Seq, last)
			}
			last = f.Seq
			if resumed || last < total/3 {
				continue
			}
			// Leave, let pushes pass, come back with since: the replay
			// continues exactly where the client was.
			resumed = true
			if err := c.WriteJSON(map[string]any{"op": "unsubscribe", "channel": "leaderboard:hot"}); err != nil {
				return err
			}
			for f.Type != "unsubscribed" {
				if f, err = next(); err != nil {
					return err
				}
			}
			time.Sleep(5 * time.Millisecond)
			if err := c.WriteJSON(map[string]any{"op": "subscribe", "channel": "leaderboard:hot", "since": last}); err != nil {
				return err
			}
		}
	}
	if !resumed {
		return fmt.Errorf("never resumed")
	}
	return nil
}
