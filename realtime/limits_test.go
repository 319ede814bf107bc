package realtime

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/questline/questline/internal/redistest"
)

// TestUserConnectionCap: one user holds at most MaxUserConnections
// sockets on a node; one more is refused with 429 before the upgrade, and
// a closed one frees its slot.
func TestUserConnectionCap(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{MaxUserConnections: 2})
	first, _ := n.connect(t, "acme/alice", "")
	n.connect(t, "acme/alice", "")
	_, resp, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape("acme/alice"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third socket: err %v, response %+v", err, resp)
	}
	n.connect(t, "acme/bob", "")    // another user
	n.connect(t, "other/alice", "") // the same name in another tenant
	first.Close()
	waitConnections(t, n.hub, 3)
	n.connect(t, "acme/alice", "")
}

// TestUserConnectionCapConcurrent: one token opening 300 sockets at once
// gets at most MaxUserConnections: those past the cap get 429 before the
// upgrade, or, having raced past that check, 1008 when registered.
func TestUserConnectionCapConcurrent(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{MaxUserConnections: 3})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []*fws.Conn
	)
	for range 300 {
		wg.Go(func() {
			c, _, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape("acme/alice"), nil)
			if err != nil {
				return // 429 before the upgrade
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	open := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, msg, err := c.ReadMessage()
		switch {
		case err == nil && strings.Contains(string(msg), `"subscribed"`):
			open++
		case err == nil:
			t.Fatalf("first frame %s", msg)
		case !fws.IsCloseError(err, fws.ClosePolicyViolation):
			t.Fatalf("a socket over the cap ended with %v, want close 1008", err)
		}
	}
	if open != 3 || n.hub.Connections() != 3 {
		t.Fatalf("%d sockets subscribed, hub holds %d; want 3", open, n.hub.Connections())
	}
	// An upgrade that passed the check while the others were still
	// upgrading is refused when it registers.
	if code, _ := n.hub.add(newConn(n.hub, Identity{Tenant: "acme", User: "alice"}, nil)); code != closePolicy {
		t.Fatalf("registering a 4th socket: close code %d, want %d", code, closePolicy)
	}
}

// TestTokenExpiryCloses: a socket is closed with 4001 when its token
// expires, so the client reconnects with a fresh one.
func TestTokenExpiryCloses(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, _ := n.connect(t, "acme/alice//300ms", "")
	if code := closeCode(t, c); code != closeTokenExpired {
		t.Fatalf("closed with %d, want %d", code, closeTokenExpired)
	}
	waitConnections(t, n.hub, 0)
	// A token still valid keeps its socket.
	long, _ := n.connect(t, "acme/alice//1h", "")
	quiet(t, long)
}

// TestStalledClientGetsCloseFrame: a client that stops reading long enough
// to overflow its queue is cut, but the write in progress may finish for a
// while, so a client that reads again soon after gets its backlog and the
// 1008 close frame rather than a bare TCP close.
func TestStalledClientGetsCloseFrame(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{QueueSize: 4})
	ctx := context.Background()
	c, _ := n.connect(t, "acme/slow", "")
	big := strings.Repeat("x", 64<<10)
	for i := 0; !n.cut(); i++ {
		if i == 5000 {
			t.Fatal("stalled client never cut")
		}
		_ = n.hub.PublishUser(ctx, "acme", "slow", "progress", map[string]string{"pad": big})
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // stalled a little longer
	if code := closeCode(t, c); code != fws.ClosePolicyViolation {
		t.Fatalf("closed with %d, want %d", code, fws.ClosePolicyViolation)
	}
}

// cut reports whether some connection of the node is being closed.
func (n *node) cut() bool {
	n.hub.mu.RLock()
	defer n.hub.mu.RUnlock()
	for c := range n.hub.conns {
		if c.killed() {
			return true
		}
	}
	return false
}

// TestPresenceAndDrain: presence counts the sockets watching a board on
// every node; a drain closes each socket with 1012, spread over the
// period rather than all at once.
func TestPresenceAndDrain(t *testing.T) {
	client := redistest.Client(t)
	a := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{DrainPeriod: 600 * time.Millisecond})
	b := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	var conns []*fws.Conn
	for i, n := range []*node{a, a, b} {
		c, _ := n.connect(t, fmt.Sprintf("acme/u%d", i), "")
		send(t, c, map[string]any{"op": "subscribe", "channel": "leaderboard:b1"})
		if f := read(t, c); f.Type != "subscribed" {
			t.Fatalf("subscribe: %+v", f)
		}
		conns = append(conns, c)
	}
	time.Sleep(presenceFlush + 300*time.Millisecond)
	send(t, conns[2], map[string]any{"op": "presence", "channel": "leaderboard:b1"})
	if f := read(t, conns[2]); f.Type != "presence" || string(f.Data) != `{"count":3}` {
		t.Fatalf("presence = %+v %s", f, f.Data)
	}
	send(t, conns[2], map[string]any{"op": "presence", "channel": "user:u2"})
	if f := read(t, conns[2]); f.code() != "bad-request" {
		t.Fatalf("presence of a user channel = %+v", f)
	}

	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.hub.Shutdown(ctx)
	}()
	var closedAt []time.Duration
	for _, c := range conns[:2] {
		if code := closeCode(t, c); code != fws.CloseServiceRestart {
			t.Fatalf("drain close code %d", code)
		}
		closedAt = append(closedAt, time.Since(start))
	}
	if spread := max(closedAt[0], closedAt[1]); spread < 250*time.Millisecond {
		t.Fatalf("two sockets drained over %v of a 600ms period: not spread", closedAt)
	}
}
