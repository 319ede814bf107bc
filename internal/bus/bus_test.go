package bus

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/internal/redistest"
)

// recorder collects what a handler was called with.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) fn(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
}

// wait waits until the handler saw want (in any order, others allowed).
func (r *recorder) wait(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		r.mu.Lock()
		ok := slices.Contains(r.keys, want)
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler never saw %q: %q", want, r.keys)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) saw(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.keys, key)
}

// TestBuses runs one table against both buses: a publish on one node
// reaches the topic's handlers on every node, this one included, and no
// other topic's.
func TestBuses(t *testing.T) {
	impls := []struct {
		name  string
		nodes func(t *testing.T) []Bus
	}{
		{"memory", func(*testing.T) []Bus { return []Bus{NewMemory()} }},
		{"redis", func(t *testing.T) []Bus {
			client := redistest.Client(t)
			var out []Bus
			for range 2 {
				b := NewRedis(client, nil)
				ready := &recorder{}
				b.Subscribe("ready", ready.fn)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = b.Run(ctx) }()
				t.Cleanup(func() { cancel(); <-done })
				ready.wait(t, "") // subscribed: told to drop everything
				out = append(out, b)
			}
			return out
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			nodes := impl.nodes(t)
			var chs, bgs []*recorder
			for _, b := range nodes {
				ch, bg := &recorder{}, &recorder{}
				b.Subscribe("challenges", ch.fn)
				b.Subscribe("badges", bg.fn)
				chs, bgs = append(chs, ch), append(bgs, bg)
			}
			nodes[0].Publish(context.Background(), "challenges", "acme")
			for i := range nodes {
				chs[i].wait(t, "acme")
			}
			nodes[len(nodes)-1].Publish(context.Background(), "badges", "other|x")
			for i := range nodes {
				bgs[i].wait(t, "other|x")
				if chs[i].saw("other|x") || bgs[i].saw("acme") {
					t.Fatalf("node %d: a topic's handler got another's key", i)
				}
			}
		})
	}
}

// TestRedisReconnectDropsEverything: messages sent while a node's pub/sub
// connection was down are lost, so after go-redis resubscribes the node's
// handlers are told to drop everything.
func TestRedisReconnectDropsEverything(t *testing.T) {
	client := redistest.Client(t)
	b := NewRedis(client, nil)
	r := &recorder{}
	b.Subscribe("challenges", r.fn)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.wait(t, "")
	r.mu.Lock()
	r.keys = nil
	r.mu.Unlock()
	if err := client.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "")
}

// TestCache: a value is loaded once per TTL; Drop forgets one key or all;
// a load that raced a Drop is returned but not kept, so it cannot hide
// the change; past max keys the cache starts afresh.
func TestCache(t *testing.T) {
	ctx := context.Background()
	c := NewCache[int](time.Minute, 3)
	now := time.Now()
	loads := 0
	get := func(key string, at time.Time) int {
		t.Helper()
		v, err := c.Get(ctx, key, at, func(context.Context) (int, error) { loads++; return loads, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := get("a", now)
	if again := get("a", now); first != 1 || again != 1 || loads != 1 {
		t.Fatalf("cached value reloaded: got %d then %d, %d loads", first, again, loads)
	}
	if get("a", now.Add(time.Minute)) != 2 {
		t.Fatal("a value past its TTL was not reloaded")
	}
	get("b", now)
	c.Drop("a")
	if get("a", now) != 4 || get("b", now) != 3 {
		t.Fatal("Drop forgot the wrong key")
	}
	c.Drop("")
	if get("b", now) != 5 {
		t.Fatal(`Drop("") kept a key`)
	}

	// A Drop while a load runs: its value is served once, not kept.
	v, err := c.Get(ctx, "r", now, func(context.Context) (int, error) { c.Drop("r"); return 100, nil })
	if err != nil || v != 100 {
		t.Fatalf("racing load = %d, %v", v, err)
	}
	if get("r", now) == 100 {
		t.Fatal("a load that raced a Drop was kept")
	}

	for _, k := range []string{"x", "y", "z", "w"} {
		get(k, now)
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 3 {
		t.Fatalf("%d entries, want at most 3", n)
	}
}
