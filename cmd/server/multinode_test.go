package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

// cluster3 is three server processes on one SQLite file and one Redis,
// with a tenant whose every share event pushes progress, and whose
// check-in pays points into a board.
type cluster3 struct {
	t      *testing.T
	nodes  []*proc
	tenant string
	board  string
	urls   []string

	mu   sync.Mutex
	keys map[string]int // user+type -> events sent, for unique idempotency keys
}

func startCluster3(t *testing.T, redisURL string) *cluster3 {
	t.Helper()
	nodes := startProcs(t, 3, map[string]string{
		"REDIS_URL": redisURL, "QL_WS_HISTORY_SIZE": "8", "QL_WS_DRAIN": "1s",
	})
	c := &cluster3{t: t, nodes: nodes, tenant: "acme", keys: map[string]int{}}
	for _, n := range nodes {
		c.urls = append(c.urls, n.ws)
	}
	a := nodes[0].server()
	mgr := a.token("boss", c.tenant, auth.Manager)
	a.publish(mgr, map[string]any{"name": "Share a lot", "event_type": "share", "target": 1000000, "reward_points": 1})
	a.publish(mgr, map[string]any{"name": "Check in", "event_type": "checkin", "target": 1, "reward_points": 10})
	var b struct{ ID string }
	a.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{
		"name": "Points", "window": "all_time",
	}}).json(t, &b)
	c.board = b.ID
	time.Sleep(busSettle) // the other nodes drop their cached (empty) definitions
	return c
}

// event sends user's event of typ through node i.
func (c *cluster3) event(i int, user, typ string) {
	c.t.Helper()
	if r := c.try(i, user, typ); r.Status != 200 {
		c.t.Fatalf("event of %s through %s: %d %s", user, c.nodes[i].name, r.Status, r.Body)
	}
}

// try sends user's event and returns the answer; safe off the test's
// goroutine as long as the node answers at all.
func (c *cluster3) try(i int, user, typ string) response {
	c.mu.Lock()
	c.keys[user+typ]++
	key := fmt.Sprintf("%s-%s-%d", user, typ, c.keys[user+typ])
	c.mu.Unlock()
	s := c.nodes[i].server()
	return s.do(req{method: "POST", path: "/v1/events", token: s.token(user, c.tenant),
		body: map[string]any{"type": typ}, header: map[string]string{"Idempotency-Key": key}})
}

// rotate returns the node URLs starting at node i.
func (c *cluster3) rotate(i int) []string {
	return append(append([]string(nil), c.urls[i:]...), c.urls[:i]...)
}

// TestThreeNodesStandalone runs the cross-node cases, then node loss,
// Redis restart and drain, on three processes and one redis-server.
func TestThreeNodesStandalone(t *testing.T) {
	redis := redistest.StartOutage(t)
	c := startCluster3(t, redis.URL())
	crossNodeCases(t, c)
	t.Run("redis restart: nodes resubscribe, no goroutine growth", func(t *testing.T) { redisRestart(t, c, redis) })
	t.Run("kill -9 and drain under load: clients resume elsewhere without gaps", func(t *testing.T) { nodeLoss(t, c) })
}

// TestThreeNodesCluster runs the cross-node cases and node loss on a
// 3-master Redis Cluster (sharded pub/sub).
func TestThreeNodesCluster(t *testing.T) {
	c := startCluster3(t, strings.Join(redistest.ClusterAddrs(t), ","))
	crossNodeCases(t, c)
	t.Run("kill -9 and drain under load: clients resume elsewhere without gaps", func(t *testing.T) { nodeLoss(t, c) })
}

func crossNodeCases(t *testing.T, c *cluster3) {
	t.Run("event on A reaches the socket on B", func(t *testing.T) {
		w := watch(t, "ann", c.tenant, c.urls[1:2])
		waitFor(t, "connected", func() bool { return w.c.Stats().Connects == 1 })
		c.event(0, "ann", "share")
		waitFor(t, "progress on B", func() bool { return len(w.pushes("user:", "progress")) == 1 })
	})
	t.Run("board snapshot reaches subscribers on every node once", func(t *testing.T) {
		var ws []*watcher
		for i := range c.nodes {
			ws = append(ws, watch(t, fmt.Sprintf("fan%d", i), c.tenant, c.urls[i:i+1], "leaderboard:"+c.board))
		}
		for _, w := range ws {
			waitFor(t, "subscribed", func() bool { return w.count("subscribed") == 2 })
		}
		c.event(1, "bob", "checkin")
		for _, w := range ws {
			waitFor(t, "snapshot", func() bool { return len(w.pushes("leaderboard:", "leaderboard.top")) >= 1 })
		}
		time.Sleep(700 * time.Millisecond) // any further snapshot of the write
		want := fmt.Sprint(ws[0].pushes("leaderboard:", "leaderboard.top"))
		for i, w := range ws {
			if got := fmt.Sprint(w.pushes("leaderboard:", "leaderboard.top")); got != want || w.c.Stats().Dropped != 0 {
				t.Fatalf("node %d got snapshots %s (dropped repeats %d), node 0 %s", i, got, w.c.Stats().Dropped, want)
			}
		}
	})
	t.Run("resume across nodes: exactly the missed pushes, in order", func(t *testing.T) {
		ref := watch(t, "carol", c.tenant, c.urls[2:3]) // sees everything, live
		waitFor(t, "connected", func() bool { return ref.c.Stats().Connects == 1 })
		a := c.nodes[0].server()
		tok := a.token("carol", c.tenant)
		ws := a.dial(tok, "")
		c.event(0, "carol", "share")
		c.event(0, "carol", "share")
		seen := readFrames(t, ws, 2, "progress")
		ws.Close()
		for range 4 {
			c.event(2, "carol", "share")
		}
		waitFor(t, "reference", func() bool { return len(ref.pushes("user:", userPushes...)) == 6 })
		last := seen[1]
		resumed := c.nodes[1].server().dial(tok, fmt.Sprintf("&since=%d&epoch=%s", last.Seq, last.Epoch))
		got := untilPong(t, resumed)
		all := ref.pushes("user:", userPushes...)
		if fmt.Sprint(got) != fmt.Sprint(all[2:]) {
			t.Fatalf("resumed on B from %d: %v, want %v", last.Seq, got, all[2:])
		}
	})
	t.Run("beyond the history: resume-gap", func(t *testing.T) {
		a := c.nodes[0].server()
		tok := a.token("dave", c.tenant)
		ws := a.dial(tok, "")
		c.event(0, "dave", "share")
		seen := readFrames(t, ws, 1, "progress")[0]
		ws.Close()
		for range 10 { // the history holds 8
			c.event(2, "dave", "share")
		}
		time.Sleep(100 * time.Millisecond)
		resumed := c.nodes[1].server().dial(tok, fmt.Sprintf("&since=%d&epoch=%s", seen.Seq, seen.Epoch))
		if f := readFrames(t, resumed, 1, "resume-gap", "progress")[0]; f.Type != "resume-gap" {
			t.Fatalf("resume beyond the history: %+v", f)
		}
	})
}

// untilPong pings and returns the seqs of the pushes that arrive before
// the pong.
func untilPong(t *testing.T, ws *websocket.Conn) []uint64 {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	if err := ws.WriteJSON(map[string]string{"op": "ping"}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for {
		var f wsFrame
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.Type == "pong" {
			return seqs
		}
		if f.Seq > 0 {
			seqs = append(seqs, f.Seq)
		}
	}
}

// redisRestart kills redis-server (it persists nothing) and starts it
// again: every node keeps serving, resubscribes by itself, and a socket
// on one node gets the next push from another, after a resume-gap for
// the lost counter; the goroutine counts come back to where they were.
func redisRestart(t *testing.T, c *cluster3, redis *redistest.Outage) {
	w := watch(t, "erin", c.tenant, c.urls[1:2])
	waitFor(t, "connected", func() bool { return w.c.Stats().Connects == 1 })
	c.event(0, "erin", "share")
	waitFor(t, "first push", func() bool { return len(w.pushes("user:", "progress")) == 1 })
	before := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		before[i] = n.goroutines()
	}
	for round := range 2 {
		redis.Kill()
		time.Sleep(500 * time.Millisecond)
		c.event(0, "erin", "share") // intake goes on; the push is lost with Redis
		redis.Start()
		waitFor(t, "a push after the restart", func() bool {
			c.event(0, "erin", "share")
			time.Sleep(300 * time.Millisecond)
			return w.count("resume-gap") == round+1 && len(w.pushes("user:", "progress")) >= 2+round
		})
	}
	time.Sleep(2 * time.Second) // reconnect backoffs and timers settle
	for i, n := range c.nodes {
		if !n.alive() {
			t.Fatalf("%s died: %s", n.name, n.log())
		}
		if after := n.goroutines(); after > before[i]+before[i]/5+10 {
			t.Fatalf("%s goroutines %d before two Redis restarts, %d after", n.name, before[i], after)
		}
	}
	if w.c.Stats().Connects != 1 {
		t.Fatalf("the socket was dropped: %+v", w.c.Stats())
	}
}

// nodeLoss: 30 clients spread over the nodes while events flow through
// node C; node A is killed (-9), then node B drained (SIGTERM). Their
// clients reconnect elsewhere and resume: every user's pushes run from 1
// to the last without a gap, and C's clients never notice.
func nodeLoss(t *testing.T, c *cluster3) {
	const users = 30
	ws := make([]*watcher, users)
	for i := range ws {
		ws[i] = watch(t, fmt.Sprintf("load%d", i), c.tenant, c.rotate(i%3))
	}
	for _, w := range ws {
		waitFor(t, "connected", func() bool { return w.c.Stats().Connects == 1 })
	}
	stop := make(chan struct{})
	loaded := make(chan struct{})
	sent := 0
	go func() {
		defer close(loaded)
		for ; ; sent++ {
			select {
			case <-stop:
				return
			default:
			}
			c.try(2, fmt.Sprintf("load%d", sent%users), "share")
		}
	}()
	time.Sleep(time.Second)
	c.nodes[0].kill()
	time.Sleep(time.Second)
	c.nodes[1].term()
	time.Sleep(time.Second)
	close(stop)
	<-loaded
	for i := range users { // a last push each, so a lost tail would show
		c.event(2, fmt.Sprintf("load%d", i), "share")
	}
	time.Sleep(time.Second)
	t.Logf("%d events during the loss and the drain", sent)
	for i, w := range ws {
		got := w.pushes("user:", "progress")
		if len(got) == 0 || got[0] != 1 || !contiguous(got) || w.c.Stats().Gaps != 0 {
			t.Fatalf("user %d (first on node %d): pushes %v, stats %+v, closes %v", i, i%3, got, w.c.Stats(), w.closes)
		}
		switch i % 3 {
		case 0:
			if len(w.closes) == 0 || w.c.Stats().Connects < 2 {
				t.Fatalf("user %d on the killed node: closes %v, stats %+v", i, w.closes, w.c.Stats())
			}
		case 1:
			if !contains(w.closes, websocket.CloseServiceRestart) {
				t.Fatalf("user %d on the drained node: closes %v, want 1012", i, w.closes)
			}
		case 2:
			if len(w.closes) != 0 {
				t.Fatalf("user %d on the surviving node was disconnected: %v", i, w.closes)
			}
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
