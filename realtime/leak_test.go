package realtime

import (
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// TestNoLeakAfterConnectCycles: 10,000 connections open, subscribe to a
// board, receive a push and close; afterwards the node has as many
// goroutines as before and its heap has not grown beyond noise. (-short
// runs 1,000.)
func TestNoLeakAfterConnectCycles(t *testing.T) {
	cycles := 10000
	if testing.Short() {
		cycles = 1000
	}
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	cycle := func(i int) {
		// Not n.connect: its cleanup would keep every client socket.
		c, _, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape(fmt.Sprintf("acme/u%d", i%500)), nil)
		if err != nil {
			t.Errorf("dial: %v", err)
			return
		}
		defer c.Close()
		if f := read(t, c); f.Type != "subscribed" {
			t.Errorf("connect: %+v", f)
		}
		send(t, c, map[string]any{"op": "subscribe", "channel": fmt.Sprintf("leaderboard:b%d", i%50)})
		if f := read(t, c); f.Type != "subscribed" {
			t.Errorf("subscribe: %+v", f)
		}
	}
	const workers = 8
	cycles8 := func(total int) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < total; i += workers {
					cycle(i)
				}
			})
		}
		wg.Wait()
		waitConnections(t, n.hub, 0)
	}
	// Warm up as the run goes: fasthttp keeps one idle worker goroutine
	// per concurrent connection it has seen, for a while.
	cycles8(400)
	goroutines, heap := settle()

	start := time.Now()
	cycles8(cycles)
	took := time.Since(start)
	g2, h2 := settle()
	t.Logf("%d cycles in %v: goroutines %d -> %d, heap in use %d KiB -> %d KiB", cycles, took, goroutines, g2, heap>>10, h2>>10)
	if g2 > goroutines+workers { // fasthttp idle workers come and go
		t.Fatalf("goroutines %d before, %d after %d cycles", goroutines, g2, cycles)
	}
	if h2 > heap+4<<20 {
		t.Fatalf("heap in use %d KiB before, %d KiB after %d cycles", heap>>10, h2>>10, cycles)
	}
	n.hub.mu.RLock()
	defer n.hub.mu.RUnlock()
	if len(n.hub.subs) != 0 || len(n.hub.users) != 0 {
		t.Fatalf("hub still holds %d channels, %d users", len(n.hub.subs), len(n.hub.users))
	}
}

// settle lets closing goroutines finish and returns the goroutine count
// and the heap in use after a collection.
func settle() (int, uint64) {
	var g int
	for range 50 {
		g = runtime.NumGoroutine()
		time.Sleep(20 * time.Millisecond)
		if runtime.NumGoroutine() == g {
			break
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapInuse
}
