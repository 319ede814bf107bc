package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/redistest"
)

// node is one server: a hub on a broker behind a real Fiber app on a
// loopback listener, serving Handler at /v1/ws.
type node struct {
	hub  *Hub
	url  string // ws://…/v1/ws
	http string // http://…/v1/ws
}

// startNode serves a hub on b. Tokens are "tenant/user[/role,role[/ttl]]",
// ttl a duration until the token expires.
func startNode(t testing.TB, b Broker, opts HubOptions) *node {
	t.Helper()
	h := NewHub(b, opts)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = h.Run(ctx) }()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Server().KeepHijackedConns = true // as cmd/server runs it
	app.Get("/v1/ws", Handler(h, func(c *fiber.Ctx) (Identity, error) {
		parts := strings.Split(c.Query("token"), "/")
		if len(parts) < 2 {
			return Identity{}, errors.New("bad token")
		}
		id := Identity{Tenant: parts[0], User: parts[1]}
		if len(parts) > 2 && parts[2] != "" {
			id.Roles = strings.Split(parts[2], ",")
		}
		if len(parts) > 3 {
			ttl, err := time.ParseDuration(parts[3])
			if err != nil {
				return Identity{}, err
			}
			id.Expires = time.Now().Add(ttl)
		}
		return id, nil
	}))
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
		<-ran
	})
	addr := ln.Addr().String()
	return &node{hub: h, url: "ws://" + addr + "/v1/ws", http: "http://" + addr + "/v1/ws"}
}

func (n *node) dial(t *testing.T, token, query string) *fws.Conn {
	t.Helper()
	c, _, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape(token)+query, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect dials and reads the user channel's "subscribed" answer.
func (n *node) connect(t *testing.T, token, query string) (*fws.Conn, frame) {
	t.Helper()
	c := n.dial(t, token, query)
	f := read(t, c)
	if f.Type != "subscribed" || !strings.HasPrefix(f.Channel, "user:") {
		t.Fatalf("first frame = %+v, want the user channel's subscribed", f)
	}
	return c, f
}

type frame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Epoch   string          `json:"epoch"`
	Seq     uint64          `json:"seq"`
	Data    json.RawMessage `json:"data"`
}

func (f frame) code() string {
	var d struct{ Code string }
	_ = json.Unmarshal(f.Data, &d)
	return d.Code
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

func send(t *testing.T, c *fws.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// quiet checks nothing else arrives: after a moment for deliveries in
// flight, a ping's pong must be the next frame.
func quiet(t *testing.T, c *fws.Conn) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	send(t, c, map[string]string{"op": "ping"})
	if f := read(t, c); f.Type != "pong" {
		t.Fatalf("unexpected frame %+v", f)
	}
}

// closeCode reads until the connection ends and returns its close code
// (0 when it ended without a close frame).
func closeCode(t *testing.T, c *fws.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *fws.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection still open")
		}
		return 0
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

func publishUser(t *testing.T, n *node, tenant, user string, i int) {
	t.Helper()
	if err := n.hub.PublishUser(context.Background(), tenant, user, "progress", map[string]int{"i": i}); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeChecks: credentials are checked before the upgrade, so a bad
// token gets a 401 problem and never a socket.
func TestUpgradeChecks(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	_, resp, err := fws.DefaultDialer.Dial(n.url+"?token=nonsense", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a bad token: err %v, resp %v", err, resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("401 content type %q", ct)
	}
	body, _ := io.ReadAll(resp.Body)
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(body, &p); err != nil || !strings.HasSuffix(p.Type, "/unauthorized") || p.Status != 401 {
		t.Fatalf("401 body %s", body)
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{n.http + "?token=acme/alice", http.StatusUpgradeRequired}, // plain GET
		{n.http + "?token=nonsense", http.StatusUnauthorized},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("GET %s = %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
	if _, resp, err := fws.DefaultDialer.Dial(n.url+"?token=acme/alice&since=x", nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad since: %v %v", err, resp)
	}
	if n.hub.Connections() != 0 {
		t.Fatalf("%d connections after rejected upgrades", n.hub.Connections())
	}
}

func TestUserChannelAndSubscriptions(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	ctx := context.Background()
	alice, f := n.connect(t, "acme/alice", "")
	if f.Channel != "user:alice" || f.Seq != 0 {
		t.Fatalf("subscribed = %+v", f)
	}
	if err := n.hub.PublishUser(ctx, "acme", "alice", "points", map[string]int{"amount": 50}); err != nil {
		t.Fatal(err)
	}
	// The same user id in another tenant, and another user, must not reach alice.
	_ = n.hub.PublishUser(ctx, "globex", "alice", "points", map[string]int{"amount": 999})
	_ = n.hub.PublishUser(ctx, "acme", "bob", "points", map[string]int{"amount": 999})
	f = read(t, alice)
	if f.Type != "points" || f.Channel != "user:alice" || f.Seq != 1 || string(f.Data) != `{"amount":50}` {
		t.Fatalf("push = %+v", f)
	}
	quiet(t, alice)

	for _, tc := range []struct{ channel, typ, code string }{
		{"leaderboard:b1", "subscribed", ""},
		{"user:alice", "subscribed", ""}, // already: answered again
		{"user:bob", "error", "forbidden"},
		{"quiz:q1", "error", "forbidden"},     // not allowed by the default policy
		{"acme|user:x", "error", "forbidden"}, // cannot name a tenant: this is acme's "acme|user" kind
		{"leaderboard:a\nb", "error", "bad-request"},
		{"leaderboard", "error", "bad-request"},
		{"", "error", "bad-request"},
	} {
		send(t, alice, map[string]any{"op": "subscribe", "channel": tc.channel})
		if f := read(t, alice); f.Type != tc.typ || f.Channel != tc.channel || f.code() != tc.code {
			t.Fatalf("subscribe %q = %+v, want %s %s", tc.channel, f, tc.typ, tc.code)
		}
	}
	_ = n.hub.Publish(ctx, "acme", "leaderboard:b1", "leaderboard.top", []int{1})
	_ = n.hub.Publish(ctx, "globex", "leaderboard:b1", "leaderboard.top", []int{2})
	if f := read(t, alice); f.Type != "leaderboard.top" || f.Channel != "leaderboard:b1" || f.Seq != 1 || string(f.Data) != "[1]" {
		t.Fatalf("board push = %+v", f)
	}
	send(t, alice, map[string]string{"op": "unsubscribe", "channel": "leaderboard:b1"})
	if f := read(t, alice); f.Type != "unsubscribed" || f.Channel != "leaderboard:b1" {
		t.Fatalf("unsubscribe answer = %+v", f)
	}
	_ = n.hub.Publish(ctx, "acme", "leaderboard:b1", "leaderboard.top", []int{3})
	quiet(t, alice)

	send(t, alice, map[string]string{"op": "ping"})
	if f := read(t, alice); f.Type != "pong" {
		t.Fatalf("ping answer = %+v", f)
	}
	if err := alice.WriteMessage(fws.TextMessage, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if f := read(t, alice); f.Type != "error" || f.code() != "bad-request" {
		t.Fatalf("garbage answer = %+v", f)
	}
	send(t, alice, map[string]string{"op": "dance"})
	if f := read(t, alice); f.Type != "error" || f.code() != "bad-request" {
		t.Fatalf("unknown op answer = %+v", f)
	}

	// A reconnecting client learns the latest seq of its channel.
	_, f = n.connect(t, "acme/alice", "")
	if f.Seq != 1 {
		t.Fatalf("subscribed on reconnect = %+v, want seq 1", f)
	}
}

// TestProviderUserIDs: subjects such as "auth0|abc" are user ids like any
// other.
func TestProviderUserIDs(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, f := n.connect(t, "acme/auth0|abc", "")
	if f.Channel != "user:auth0|abc" {
		t.Fatalf("subscribed = %+v", f)
	}
	publishUser(t, n, "acme", "auth0|abc", 1)
	if f := read(t, c); f.Channel != "user:auth0|abc" || f.Seq != 1 {
		t.Fatalf("push = %+v", f)
	}
	if err := n.hub.PublishUser(context.Background(), "ac|me", "x", "points", 1); err == nil {
		t.Fatal("a tenant with a | was accepted")
	}
	if _, resp, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape("ac|me/x"), nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tenant with a |: %v %v", err, resp)
	}
}

func TestCanSubscribe(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{
		CanSubscribe: func(id Identity, ch string) bool {
			for _, r := range id.Roles {
				if r == "manager" {
					return true
				}
			}
			return strings.HasPrefix(ch, "quiz:")
		},
	})
	player, _ := n.connect(t, "acme/p", "")
	manager, _ := n.connect(t, "acme/m/player,manager", "")
	for _, tc := range []struct {
		c       *fws.Conn
		channel string
		typ     string
	}{
		{player, "quiz:q1", "subscribed"},
		{player, "contest:c1", "error"},
		{manager, "contest:c1", "subscribed"},
		{manager, "user:p", "error"}, // never another user's channel
	} {
		send(t, tc.c, map[string]any{"op": "subscribe", "channel": tc.channel})
		if f := read(t, tc.c); f.Type != tc.typ || f.Channel != tc.channel {
			t.Fatalf("subscribe %s = %+v, want %s", tc.channel, f, tc.typ)
		}
	}
}

// TestResume: a client that reconnects with its last seq gets exactly what
// it missed, in order, then live frames, without gaps or duplicates.
func TestResume(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{HistorySize: 50}), HubOptions{})
	c, _ := n.connect(t, "acme/alice", "")
	for i := 1; i <= 3; i++ {
		publishUser(t, n, "acme", "alice", i)
	}
	var last uint64
	for range 3 {
		last = read(t, c).Seq
	}
	c.Close()
	waitConnections(t, n.hub, 0)
	for i := 4; i <= 6; i++ { // missed while offline
		publishUser(t, n, "acme", "alice", i)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	c2 := n.dial(t, "acme/alice", fmt.Sprintf("&since=%d", last))
	wg.Go(func() {
		for i := 7; i <= 30; i++ { // live, racing the resume
			_ = n.hub.PublishUser(context.Background(), "acme", "alice", "progress", map[string]int{"i": i})
		}
	})
	f := read(t, c2)
	if f.Type != "subscribed" || f.Channel != "user:alice" || f.Seq < 6 {
		t.Fatalf("resume reply = %+v, want the latest seq (6 or more)", f)
	}
	for want := last + 1; want <= 30; want++ {
		f := read(t, c2)
		var d struct{ I uint64 }
		_ = json.Unmarshal(f.Data, &d)
		if f.Seq != want || f.Type != "progress" || d.I != want {
			t.Fatalf("frame = %+v, want seq %d", f, want)
		}
	}
	quiet(t, c2)

	// Up to date: nothing to replay.
	c2.Close()
	waitConnections(t, n.hub, 0)
	c3, f := n.connect(t, "acme/alice", "&since=30")
	if f.Seq != 30 {
		t.Fatalf("resume reply = %+v", f)
	}
	quiet(t, c3)
}

// TestResumeGap: when the history no longer reaches back to since, the
// client is told to refetch and the stream goes on live from the latest.
func TestResumeGap(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{HistorySize: 2}), HubOptions{})
	for i := 1; i <= 5; i++ {
		publishUser(t, n, "acme", "bob", i)
	}
	c, f := n.connect(t, "acme/bob", "&since=1")
	if f.Seq != 5 {
		t.Fatalf("subscribed = %+v, want seq 5", f)
	}
	if f := read(t, c); f.Type != "resume-gap" || f.Channel != "user:bob" {
		t.Fatalf("frame after a too-old resume = %+v", f)
	}
	quiet(t, c)
	publishUser(t, n, "acme", "bob", 6)
	if f := read(t, c); f.Seq != 6 {
		t.Fatalf("first frame after the gap = %+v", f)
	}
	// A since ahead of the channel is a gap too.
	c.Close()
	c2, _ := n.connect(t, "acme/bob", "&since=99")
	if f := read(t, c2); f.Type != "resume-gap" {
		t.Fatalf("since ahead of the channel: %+v", f)
	}
}

// TestSubscribeWithSince resumes a channel other than the user's.
func TestSubscribeWithSince(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		_ = n.hub.Publish(ctx, "acme", "leaderboard:b1", "leaderboard.top", []int{i})
	}
	c, _ := n.connect(t, "acme/alice", "")
	send(t, c, map[string]any{"op": "subscribe", "channel": "leaderboard:b1", "since": 1})
	if f := read(t, c); f.Type != "subscribed" || f.Seq != 3 {
		t.Fatalf("subscribed = %+v", f)
	}
	for want := uint64(2); want <= 3; want++ {
		if f := read(t, c); f.Seq != want || f.Channel != "leaderboard:b1" {
			t.Fatalf("replay = %+v, want seq %d", f, want)
		}
	}
	quiet(t, c)
}

// TestSlowClientDisconnected: a client that stops reading is dropped when
// its queue fills, and a client that reads keeps receiving everything.
func TestSlowClientDisconnected(t *testing.T) {
	mb := NewMemoryBroker(BrokerOptions{HistorySize: 4})
	n := startNode(t, mb, HubOptions{QueueSize: 4})
	ctx := context.Background()
	slow, _ := n.connect(t, "acme/slow", "")
	fast, _ := n.connect(t, "acme/fast", "")
	frames := make(chan frame, 1000)
	var got atomic.Int64
	go func() {
		defer close(frames)
		for {
			var f frame
			_ = fast.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := fast.ReadJSON(&f); err != nil {
				return
			}
			frames <- f
			got.Add(1)
		}
	}()
	big := strings.Repeat("x", 32<<10) // fills socket buffers quickly
	sent := 0
	// A stalled writer is given a few seconds to finish its frame (so it
	// can send a close frame) before the connection is dropped: bound the
	// wait by time, not by a number of publishes a fast machine runs
	// through sooner.
	giveUp := time.Now().Add(30 * time.Second)
	for i := 0; n.hub.Connections() == 2; i++ {
		if time.Now().After(giveUp) {
			t.Fatalf("slow client never disconnected (%d publishes)", i)
		}
		_ = n.hub.PublishUser(ctx, "acme", "slow", "progress", map[string]string{"pad": big})
		if i%10 == 0 {
			// The fast client keeps up: it has read everything sent to it
			// before it gets more, however loaded the machine is, so
			// only the slow client can fill its queue.
			for deadline := time.Now().Add(5 * time.Second); got.Load() < int64(sent) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
			sent++
			_ = n.hub.PublishUser(ctx, "acme", "fast", "progress", map[string]int{"i": sent})
		}
		// Publish at the pace the hub dispatches: a backlog would reach
		// the fast client as one burst once the slow one is gone, and a
		// burst beyond QueueSize cuts any client.
		for len(mb.out) > 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	sent++
	_ = n.hub.PublishUser(ctx, "acme", "fast", "progress", map[string]int{"i": sent})
	for i := 1; i <= sent; i++ {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("fast client disconnected after %d frames", i-1)
			}
			if f.Type != "progress" || f.Seq != uint64(i) {
				t.Fatalf("fast client frame = %+v, want seq %d", f, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("fast client got %d frames of %d", i-1, sent)
		}
	}
	if n.hub.Connections() != 1 {
		t.Fatalf("%d connections", n.hub.Connections())
	}
	// The slow client, reading at last, finds its connection gone after
	// its backlog: with a 1008 close frame when the socket had room for
	// it, else without (1006).
	if code := closeCode(t, slow); code != fws.ClosePolicyViolation && code != fws.CloseAbnormalClosure {
		t.Fatalf("slow client closed with %d", code)
	}
}

func TestShutdownSendsRestart(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, _ := n.connect(t, "acme/alice", "")
	c2, _ := n.connect(t, "acme/bob", "")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- n.hub.Shutdown(ctx)
	}()
	for _, c := range []*fws.Conn{c, c2} {
		if code := closeCode(t, c); code != fws.CloseServiceRestart {
			t.Fatalf("close code during shutdown = %d, want 1012", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n.hub.Connections() != 0 {
		t.Fatalf("%d connections after shutdown", n.hub.Connections())
	}
	// A connection attempted after shutdown is closed at once.
	c3 := n.dial(t, "acme/carol", "")
	if code := closeCode(t, c3); code != fws.CloseServiceRestart {
		t.Fatalf("connection after shutdown closed with %d, want 1012", code)
	}
}

// TestCommandFlood: a client sending commands faster than its budget is
// disconnected with a policy-violation close.
func TestCommandFlood(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, _ := n.connect(t, "acme/alice", "")
	for range 200 {
		if err := c.WriteJSON(map[string]string{"op": "ping"}); err != nil {
			break
		}
	}
	if code := closeCode(t, c); code != fws.ClosePolicyViolation {
		t.Fatalf("flooding client closed with %d, want 1008", code)
	}
	waitConnections(t, n.hub, 0)
}

// TestCrossNode: two hubs on two Redis brokers sharing one Redis. A
// publish on node A reaches a client of node B, and a client that moves
// from B to A resumes there from the shared history.
func TestCrossNode(t *testing.T) {
	client := redistest.Client(t)
	a := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	b := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	ctx := context.Background()
	c, _ := b.connect(t, "acme/alice", "")
	// No retry: once "subscribed" arrived, the first publish is delivered.
	if err := a.hub.PublishUser(ctx, "acme", "alice", "points", map[string]int{"amount": 5}); err != nil {
		t.Fatal(err)
	}
	if f := read(t, c); f.Type != "points" || f.Channel != "user:alice" || f.Seq != 1 || string(f.Data) != `{"amount":5}` {
		t.Fatalf("cross-node push = %+v", f)
	}
	send(t, c, map[string]any{"op": "subscribe", "channel": "leaderboard:b1"})
	if f := read(t, c); f.Type != "subscribed" {
		t.Fatalf("subscribe = %+v", f)
	}
	_ = a.hub.Publish(ctx, "acme", "leaderboard:b1", "leaderboard.top", []int{1})
	if f := read(t, c); f.Channel != "leaderboard:b1" || f.Seq != 1 {
		t.Fatalf("cross-node board push = %+v", f)
	}

	c.Close()
	waitConnections(t, b.hub, 0)
	for i := 2; i <= 4; i++ {
		publishUser(t, b, "acme", "alice", i)
	}
	c2, f := a.connect(t, "acme/alice", "&since=1")
	if f.Seq != 4 {
		t.Fatalf("resume on the other node = %+v", f)
	}
	for want := uint64(2); want <= 4; want++ {
		if f := read(t, c2); f.Seq != want {
			t.Fatalf("resumed frame = %+v, want seq %d", f, want)
		}
	}
	publishUser(t, b, "acme", "alice", 5)
	if f := read(t, c2); f.Seq != 5 {
		t.Fatalf("live frame after resume = %+v", f)
	}
}
