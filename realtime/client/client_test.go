package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/realtime"
	"github.com/questline/questline/realtime/client"
)

// server is a hub behind Fiber on loopback, reached through a proxy the
// test can cut or freeze. Tokens are "tenant/user[/ttl]".
type server struct {
	hub   *realtime.Hub
	proxy *proxy
	url   string
}

func startServer(t *testing.T, bopts realtime.BrokerOptions) *server {
	t.Helper()
	h := realtime.NewHub(realtime.NewMemoryBroker(bopts), realtime.HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = h.Run(ctx) }()
	// Without KeepHijackedConns, unlike cmd/server: these tests cover the
	// path that serves through fasthttp's buffered reader.
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/v1/ws", realtime.Handler(h, func(c *fiber.Ctx) (realtime.Identity, error) {
		parts := strings.Split(c.Query("token"), "/")
		if len(parts) < 2 || parts[0] == "bad" {
			return realtime.Identity{}, errors.New("bad token")
		}
		id := realtime.Identity{Tenant: parts[0], User: parts[1]}
		if len(parts) > 2 {
			ttl, err := time.ParseDuration(parts[2])
			if err != nil {
				return realtime.Identity{}, err
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
	p := startProxy(t, ln.Addr().String())
	t.Cleanup(func() {
		p.close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = h.Shutdown(sctx)
		_ = app.ShutdownWithContext(sctx)
		cancel()
		<-ran
	})
	return &server{hub: h, proxy: p, url: "ws://" + p.addr + "/v1/ws"}
}

// proxy forwards TCP to a server; cut drops every connection, freeze
// stops forwarding while keeping them open (a dead mobile link).
type proxy struct {
	ln     net.Listener
	addr   string
	mu     sync.Mutex
	conns  []net.Conn
	frozen atomic.Bool
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		for p.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) close() { p.ln.Close(); p.cut() }

// recorder collects what a client hands on.
type recorder struct {
	mu     sync.Mutex
	frames []client.Frame
	states []bool
}

func (r *recorder) frame(f client.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
}

func (r *recorder) state(up bool, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, up)
}

// pushes returns "channel#seq" of the pushes received, in order.
func (r *recorder) pushes(types ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.frames {
		for _, ty := range types {
			if f.Type == ty {
				out = append(out, fmt.Sprintf("%s#%d", f.Channel, f.Seq))
			}
		}
	}
	return out
}

func (r *recorder) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; frames %+v", what, r.frames)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *recorder) connects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, up := range r.states {
		if up {
			n++
		}
	}
	return n
}

// run starts c until the test ends and returns Run's result channel.
func run(t *testing.T, c *client.Client) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() { defer close(finished); done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-finished })
	return done
}

func newClient(s *server, token func() string, r *recorder, tune func(*client.Options)) *client.Client {
	o := client.Options{
		URL:        s.url,
		Token:      func(context.Context) (string, error) { return token(), nil },
		OnFrame:    r.frame,
		OnState:    r.state,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	if tune != nil {
		tune(&o)
	}
	return client.New(o)
}

func publish(t *testing.T, s *server, channel string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := s.hub.Publish(context.Background(), "acme", channel, "n", i); err != nil {
			t.Fatal(err)
		}
	}
}

func seqs(channel string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s#%d", channel, i))
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestResumeAfterDrop: the link drops; what was published meanwhile on
// the user channel and on a subscribed board arrives once each, in order,
// after the client reconnects by itself.
func TestResumeAfterDrop(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{})
	r := &recorder{}
	c := newClient(s, func() string { return "acme/ann" }, r, nil)
	if err := c.Subscribe("leaderboard:b1"); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	r.waitFor(t, "board subscribed", func() bool {
		return len(r.pushes("subscribed")) == 2
	})
	publish(t, s, "user:ann", 1, 3)
	publish(t, s, "leaderboard:b1", 1, 2)
	r.waitFor(t, "first pushes", func() bool { return len(r.pushes("n")) == 5 })

	s.proxy.cut()
	publish(t, s, "user:ann", 4, 6)
	publish(t, s, "leaderboard:b1", 3, 4)
	r.waitFor(t, "resumed pushes", func() bool { return len(r.pushes("n")) >= 10 })
	publish(t, s, "user:ann", 7, 7)
	r.waitFor(t, "live push", func() bool { return len(r.pushes("n")) >= 11 })

	var user, board []string
	for _, p := range r.pushes("n") {
		if strings.HasPrefix(p, "user:") {
			user = append(user, p)
		} else {
			board = append(board, p)
		}
	}
	if !equal(user, seqs("user:ann", 1, 7)) || !equal(board, seqs("leaderboard:b1", 1, 4)) {
		t.Fatalf("user %v, board %v", user, board)
	}
	if r.connects() != 2 || c.Stats().Gaps != 0 {
		t.Fatalf("connects %d, stats %+v", r.connects(), c.Stats())
	}
	if _, seq := c.Position("leaderboard:b1"); seq != 4 {
		t.Fatalf("board position %d", seq)
	}
}

// TestResumeBeyondHistory: more was missed than the history holds; the
// client gets resume-gap and then the live stream, with no old push
// handed on twice.
func TestResumeBeyondHistory(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{HistorySize: 2})
	r := &recorder{}
	c := newClient(s, func() string { return "acme/ann" }, r, nil)
	run(t, c)
	r.waitFor(t, "connected", func() bool { return r.connects() == 1 })
	publish(t, s, "user:ann", 1, 1)
	r.waitFor(t, "first push", func() bool { return len(r.pushes("n")) == 1 })
	s.proxy.freeze(true)
	s.proxy.cut()
	publish(t, s, "user:ann", 2, 6)
	s.proxy.freeze(false)
	r.waitFor(t, "gap", func() bool { return len(r.pushes("resume-gap")) == 1 })
	publish(t, s, "user:ann", 7, 7)
	r.waitFor(t, "live push", func() bool { return len(r.pushes("n")) == 2 })
	if got := r.pushes("n"); !equal(got, []string{"user:ann#1", "user:ann#7"}) {
		t.Fatalf("pushes %v", got)
	}
}

func (p *proxy) freeze(on bool) { p.frozen.Store(on) }

// TestHeartbeatNoticesDeadLink: the link stops carrying anything but
// stays open; the client gives up on it after ReadTimeout and reconnects.
func TestHeartbeatNoticesDeadLink(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{})
	r := &recorder{}
	c := newClient(s, func() string { return "acme/ann" }, r, func(o *client.Options) {
		o.PingInterval, o.ReadTimeout = 50*time.Millisecond, 300*time.Millisecond
	})
	run(t, c)
	r.waitFor(t, "connected", func() bool { return r.connects() == 1 })
	time.Sleep(500 * time.Millisecond) // pongs keep a live link open
	if r.connects() != 1 {
		t.Fatalf("a live link was dropped: %d connects", r.connects())
	}
	s.proxy.freeze(true)
	time.Sleep(400 * time.Millisecond)
	s.proxy.freeze(false)
	r.waitFor(t, "reconnect", func() bool { return r.connects() == 2 })
}

// TestTokenRefresh: the server closes with 4001 when the token expires;
// the client asks for a fresh one and goes on.
func TestTokenRefresh(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{})
	r := &recorder{}
	var asked atomic.Int32
	c := newClient(s, func() string {
		if asked.Add(1) == 1 {
			return "acme/ann/300ms"
		}
		return "acme/ann"
	}, r, nil)
	run(t, c)
	r.waitFor(t, "second connection", func() bool { return r.connects() == 2 })
	if n := asked.Load(); n != 2 {
		t.Fatalf("token asked %d times", n)
	}
}

// TestUnauthorized: a refused token is asked for again once; refused
// again, Run gives up.
func TestUnauthorized(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{})
	r := &recorder{}
	done := run(t, newClient(s, func() string { return "bad/x" }, r, nil))
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrUnauthorized) {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept retrying a refused token")
	}
}

// TestReconnectsToOtherURL: with the first node gone, the client moves on
// to the next URL.
func TestReconnectsToOtherURL(t *testing.T) {
	s := startServer(t, realtime.BrokerOptions{})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { // accepts and hangs up: a node that is going down
		for {
			c, err := dead.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(c, 1))
			c.Close()
		}
	}()
	defer dead.Close()
	r := &recorder{}
	c := newClient(s, func() string { return "acme/ann" }, r, func(o *client.Options) {
		o.URLs = []string{"ws://" + dead.Addr().String() + "/v1/ws", s.url}
	})
	run(t, c)
	r.waitFor(t, "connected", func() bool { return r.connects() == 1 })
}
