package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/redistest"
)

// node is one server: a hub on a broker behind a real Fiber listener.
type node struct {
	hub *Hub
	url string
}

// startNode serves hub at /ws on a loopback port. Tokens are "tenant/user".
func startNode(t *testing.T, b Broker, opts HubOptions) *node {
	t.Helper()
	h := NewHub(b, opts)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = h.Run(ctx) }()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", Handler(h, func(c *fiber.Ctx) (Identity, error) {
		tenant, user, ok := strings.Cut(c.Query("token"), "/")
		if !ok {
			return Identity{}, errors.New("bad token")
		}
		return Identity{Tenant: tenant, User: user}, nil
	})...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = h.Shutdown(sctx)
		_ = app.ShutdownWithContext(sctx)
		cancel()
	})
	return &node{hub: h, url: "ws://" + ln.Addr().String() + "/ws"}
}

func (n *node) dial(t *testing.T, token, query string) *fws.Conn {
	t.Helper()
	c, _, err := fws.DefaultDialer.Dial(n.url+"?token="+token+query, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type frame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Seq     uint64          `json:"seq"`
	Data    json.RawMessage `json:"data"`
}

func read(t *testing.T, c *fws.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f frame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatalf("read: %v", err)
	}
	return f
}

// readUntil skips frames until one of type typ arrives.
func readUntil(t *testing.T, c *fws.Conn, typ string) frame {
	t.Helper()
	for {
		if f := read(t, c); f.Type == typ {
			return f
		}
	}
}

func waitConnections(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", h.Connections(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuthBeforeUpgrade(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	_, resp, err := fws.DefaultDialer.Dial(n.url+"?token=nonsense", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a bad token: err %v, resp %v", err, resp)
	}
}

func TestUserChannelAndSubscriptions(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	ctx := context.Background()
	alice := n.dial(t, "acme/alice", "")
	if f := read(t, alice); f.Type != "subscribed" || f.Channel != "user:alice" {
		t.Fatalf("first frame = %+v", f)
	}
	if err := n.hub.PublishUser(ctx, "acme", "alice", "points", map[string]int{"amount": 50}); err != nil {
		t.Fatal(err)
	}
	// Same user id in another tenant must not reach alice.
	_ = n.hub.PublishUser(ctx, "globex", "alice", "points", map[string]int{"amount": 999})
	f := read(t, alice)
	if f.Type != "points" || f.Channel != "user:alice" || f.Seq != 1 || string(f.Data) != `{"amount":50}` {
		t.Fatalf("push = %+v", f)
	}

	for _, tc := range []struct{ channel, want string }{
		{"leaderboard:b1", "subscribed"},
		{"user:bob", "error"},    // another user's private channel
		{"quiz:q1", "error"},     // not allowed by the default policy
		{"acme|user:x", "error"}, // cannot name a tenant
	} {
		_ = alice.WriteJSON(map[string]any{"op": "subscribe", "channel": tc.channel})
		if f := read(t, alice); f.Type != tc.want || f.Channel != tc.channel {
			t.Fatalf("subscribe %s = %+v, want %s", tc.channel, f, tc.want)
		}
	}
	_ = n.hub.Publish(ctx, "acme", "leaderboard:b1", "leaderboard.top", []int{1})
	if f := read(t, alice); f.Type != "leaderboard.top" || f.Channel != "leaderboard:b1" {
		t.Fatalf("board push = %+v", f)
	}
	_ = alice.WriteJSON(map[string]string{"op": "ping"})
	if f := read(t, alice); f.Type != "pong" {
		t.Fatalf("ping answer = %+v", f)
	}
	_ = alice.WriteMessage(fws.TextMessage, []byte("not json"))
	if f := read(t, alice); f.Type != "error" {
		t.Fatalf("garbage answer = %+v", f)
	}
}

// TestResume: a client that reconnects with its last seq gets exactly what
// it missed, in order, then live frames, without gaps or duplicates.
func TestResume(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{HistorySize: 50}), HubOptions{})
	ctx := context.Background()
	c := n.dial(t, "acme/alice", "")
	read(t, c) // subscribed
	for i := 1; i <= 3; i++ {
		_ = n.hub.PublishUser(ctx, "acme", "alice", "progress", map[string]int{"i": i})
	}
	var last uint64
	for range 3 {
		last = read(t, c).Seq
	}
	c.Close()
	waitConnections(t, n.hub, 0)
	for i := 4; i <= 6; i++ { // missed while offline
		_ = n.hub.PublishUser(ctx, "acme", "alice", "progress", map[string]int{"i": i})
	}
	c2 := n.dial(t, "acme/alice", fmt.Sprintf("&since=%d", last))
	if f := read(t, c2); f.Type != "subscribed" || f.Seq != last {
		t.Fatalf("resume reply = %+v", f)
	}
	go func() {
		for i := 7; i <= 9; i++ { // live, racing the resume
			_ = n.hub.PublishUser(ctx, "acme", "alice", "progress", map[string]int{"i": i})
		}
	}()
	for want := last + 1; want <= 9; want++ {
		f := read(t, c2)
		if f.Seq != want || f.Type != "progress" {
			t.Fatalf("frame = %+v, want seq %d", f, want)
		}
	}
	// Too far back: the history no longer covers it, and the client is told.
	n2 := startNode(t, NewMemoryBroker(BrokerOptions{HistorySize: 2}), HubOptions{})
	for i := range 5 {
		_ = n2.hub.PublishUser(ctx, "acme", "bob", "progress", map[string]int{"i": i})
	}
	c3 := n2.dial(t, "acme/bob", "&since=1")
	read(t, c3) // subscribed
	if f := read(t, c3); f.Type != "resume-gap" {
		t.Fatalf("frame after a too-old resume = %+v", f)
	}
	if f := read(t, c3); f.Seq != 4 {
		t.Fatalf("first frame after the gap = %+v", f)
	}
}

// TestSlowClientDisconnected: a client that stops reading is dropped when
// its queue fills, and others keep receiving.
func TestSlowClientDisconnected(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{QueueSize: 4})
	ctx := context.Background()
	slow := n.dial(t, "acme/slow", "")
	fast := n.dial(t, "acme/fast", "")
	read(t, fast)
	waitConnections(t, n.hub, 2)
	big := strings.Repeat("x", 64<<10) // fill socket buffers quickly
	for i := range 400 {
		_ = n.hub.PublishUser(ctx, "acme", "slow", "progress", map[string]string{"pad": big})
		if i%50 == 0 {
			_ = n.hub.PublishUser(ctx, "acme", "fast", "progress", map[string]int{"i": i})
		}
	}
	waitConnections(t, n.hub, 1)
	for range 8 {
		if f := read(t, fast); f.Type != "progress" {
			t.Fatalf("fast client frame = %+v", f)
		}
	}
	// The slow client, reading at last, finds its connection gone after
	// its backlog (with a 1008 close frame when the socket had room for it).
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("slow client still connected")
			}
			return
		}
	}
}

func TestShutdownSendsGoingAway(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c := n.dial(t, "acme/alice", "")
	read(t, c)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- n.hub.Shutdown(ctx)
	}()
	_, _, err := c.ReadMessage()
	if !fws.IsCloseError(err, fws.CloseGoingAway) {
		t.Fatalf("read during shutdown: %v, want close 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// A connection attempted after shutdown is closed at once.
	if c2, _, err := fws.DefaultDialer.Dial(n.url+"?token=acme/bob", nil); err == nil {
		defer c2.Close()
		_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c2.ReadMessage(); !fws.IsCloseError(err, fws.CloseGoingAway) {
			t.Fatalf("connection after shutdown: %v, want close 1001", err)
		}
	}
}

// TestCrossNode: two hubs on two Redis brokers sharing one Redis; a
// publish on node A reaches a client of node B.
func TestCrossNode(t *testing.T) {
	client := redistest.Client(t)
	a := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	b := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	c := b.dial(t, "acme/alice", "")
	read(t, c) // subscribed on node B
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Redis confirms a subscription asynchronously: publish until the
		// first push lands, then check the stream is gap-free.
		_ = a.hub.PublishUser(context.Background(), "acme", "alice", "points", map[string]int{"amount": 5})
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var f frame
		if err := c.ReadJSON(&f); err == nil {
			if f.Type != "points" || f.Channel != "user:alice" {
				t.Fatalf("cross-node push = %+v", f)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cross-node push")
		}
		c.Close()
		c = b.dial(t, "acme/alice", "")
		read(t, c)
	}
}

// TestCommandFlood: a client sending commands faster than its budget is
// disconnected with a policy-violation close.
func TestCommandFlood(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c := n.dial(t, "acme/alice", "")
	read(t, c)
	for range 200 {
		if err := c.WriteJSON(map[string]string{"op": "ping"}); err != nil {
			break
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if !fws.IsCloseError(err, fws.ClosePolicyViolation) {
			t.Fatalf("flooding client ended with %v, want close 1008", err)
		}
		return
	}
}
