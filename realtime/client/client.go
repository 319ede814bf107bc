// Package client is the reference Go client of Questline's realtime
// protocol (docs/realtime.md): it keeps one WebSocket open to GET /v1/ws,
// reconnects with exponential backoff and full jitter, resumes every
// channel from the last epoch and seq it delivered (so a reconnect to any
// node loses and repeats nothing while the history reaches back), and
// sends heartbeats so a dead connection is noticed within ReadTimeout.
//
// The tests of the server and cmd/loadgen use it; a mobile team can read
// it as a worked example of the protocol.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Close codes the server sends, and what the client does on each.
const (
	CloseGoingAway     = websocket.CloseGoingAway       // 1001: node stopping; reconnect (elsewhere) at once
	ClosePolicy        = websocket.ClosePolicyViolation // 1008: too slow or flooding; back off
	CloseServiceReboot = websocket.CloseServiceRestart  // 1012: node draining; reconnect elsewhere at once
	CloseTryAgain      = websocket.CloseTryAgainLater   // 1013: realtime unavailable; back off
	CloseTokenExpired  = 4001                           // fresh token, reconnect at once
)

// Frame is one frame from the server: a push ({type, channel, epoch, seq,
// data}) or a control frame (subscribed, unsubscribed, pong, resume-gap,
// presence, error).
type Frame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel,omitempty"`
	Epoch   string          `json:"epoch,omitempty"`
	Seq     uint64          `json:"seq,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// ErrUnauthorized is returned by Run when the server refuses the token
// even after Token was asked for a fresh one.
var ErrUnauthorized = errors.New("realtime client: unauthorized")

// Options configure a Client. URL and Token are required.
type Options struct {
	// URL is the endpoint, e.g. ws://127.0.0.1:8080/v1/ws. URLs, when set,
	// are tried in turn after a failed or dropped connection (several
	// nodes without a load balancer in front, as in the tests).
	URL  string
	URLs []string
	// Token returns the bearer token; it is asked again after close 4001
	// and after a 401.
	Token func(ctx context.Context) (string, error)
	// OnFrame receives every frame, in order, on the client's reader
	// goroutine: pushes (never one twice, never out of order within a
	// channel's epoch), resume-gap (refetch that channel's state over
	// REST), errors and the rest. It must not block for long.
	OnFrame func(Frame)
	// OnState, when set, learns of connects (true) and disconnects.
	OnState func(connected bool, err error)
	// Backoff bounds: the n-th retry waits a random time in
	// [0, min(MaxBackoff, MinBackoff·2ⁿ)]. Defaults 250ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how often the client sends {"op":"ping"}; default
	// 20s. ReadTimeout: a connection silent this long (no frame, no
	// server ping) is dead; default 60s (the server pings every 25s).
	PingInterval, ReadTimeout time.Duration
	// Dialer, when set, replaces websocket.DefaultDialer (e.g. to bind a
	// source address).
	Dialer *websocket.Dialer
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.Dialer == nil {
		o.Dialer = websocket.DefaultDialer
	}
	if len(o.URLs) == 0 {
		o.URLs = []string{o.URL}
	}
	if o.OnFrame == nil {
		o.OnFrame = func(Frame) {}
	}
	if o.OnState == nil {
		o.OnState = func(bool, error) {}
	}
	return o
}

// position is where a channel's stream stands for this client.
type position struct {
	epoch string
	seq   uint64
	known bool // a subscribed frame or a push set it
	// head is the channel's head from the last "subscribed"; a
	// resume-gap right after it means the stream goes on from there.
	head      mark
	afterHead bool
}

// mark is an epoch and seq.
type mark struct {
	epoch string
	seq   uint64
}

// Client is one logical realtime session over a sequence of connections.
type Client struct {
	opts Options

	mu    sync.Mutex
	user  string               // the user channel, learned from the first "subscribed"
	chans map[string]*position // channels to hold (besides user), with where they stand
	ws    *websocket.Conn      // current connection, nil between connections
	wmu   sync.Mutex           // one writer at a time on ws

	stats Stats
}

// Stats count a client's connection history.
type Stats struct {
	Connects int // successful connections
	Gaps     int // resume-gap frames received
	Dropped  int // pushes dropped as repeats
}

// New returns a client; Run connects it.
func New(opts Options) *Client {
	return &Client{opts: opts.withDefaults(), chans: map[string]*position{}}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Position returns where channel stands: the epoch and seq of the last
// push delivered (or of the head when it subscribed).
func (c *Client) Position(channel string) (epoch string, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pos(channel); p != nil {
		return p.epoch, p.seq
	}
	return "", 0
}

// pos is the state of channel; c.mu is held.
func (c *Client) pos(channel string) *position {
	if p, ok := c.chans[channel]; ok {
		return p
	}
	if channel == c.user && c.user != "" {
		return c.chans[""]
	}
	return nil
}

// Subscribe adds channel to the set the client holds: it is subscribed
// now if connected, and again, resuming, on every reconnect.
func (c *Client) Subscribe(channel string) error {
	c.mu.Lock()
	if _, ok := c.chans[channel]; !ok {
		c.chans[channel] = &position{}
	}
	ws := c.ws
	op := c.subscribeOp(channel)
	c.mu.Unlock()
	if ws == nil {
		return nil
	}
	return c.write(ws, op)
}

// Unsubscribe drops channel from the set.
func (c *Client) Unsubscribe(channel string) error {
	c.mu.Lock()
	delete(c.chans, channel)
	ws := c.ws
	c.mu.Unlock()
	if ws == nil {
		return nil
	}
	return c.write(ws, map[string]string{"op": "unsubscribe", "channel": channel})
}

// Presence asks for the number of connections watching channel (all
// nodes); the answer arrives as a "presence" frame.
func (c *Client) Presence(channel string) error {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws == nil {
		return errors.New("realtime client: not connected")
	}
	return c.write(ws, map[string]string{"op": "presence", "channel": channel})
}

// subscribeOp is the command that (re)subscribes channel from where it
// stands; c.mu is held.
func (c *Client) subscribeOp(channel string) map[string]any {
	op := map[string]any{"op": "subscribe", "channel": channel}
	if p := c.chans[channel]; p != nil && p.known {
		op["since"], op["epoch"] = p.seq, p.epoch
	}
	return op
}

func (c *Client) write(ws *websocket.Conn, v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(v); err != nil {
		return fmt.Errorf("realtime client: write: %w", err)
	}
	return nil
}

// Run connects and keeps the client connected until ctx ends (it then
// returns ctx.Err()) or the server refuses a freshly asked-for token.
func (c *Client) Run(ctx context.Context) error {
	var token string
	attempt, refused := 0, false
	for i := 0; ; i++ {
		if token == "" {
			t, err := c.opts.Token(ctx)
			if err != nil {
				return fmt.Errorf("realtime client: token: %w", err)
			}
			token = t
		}
		up, err := c.session(ctx, c.opts.URLs[i%len(c.opts.URLs)], token)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.opts.OnState(false, err)
		if errors.Is(err, ErrUnauthorized) {
			if refused {
				return err // a fresh token was refused too
			}
			refused = true
		} else {
			refused = false
		}
		if up {
			attempt = 0 // it worked for a while: start the backoff over
		}
		wait := c.backoff(attempt)
		switch classify(err) {
		case refreshToken:
			token = ""
			wait = rand.N(c.opts.MinBackoff) + time.Millisecond
		case immediately:
			// Told to go elsewhere: at once, spread a little so the
			// clients told together do not arrive together.
			wait = rand.N(c.opts.MinBackoff) + time.Millisecond
		}
		attempt++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// backoff is full jitter: a random wait up to the capped exponential.
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.opts.MaxBackoff
	if attempt < 30 {
		ceil = min(ceil, c.opts.MinBackoff<<attempt)
	}
	return rand.N(ceil) + time.Millisecond
}

type action int

const (
	backOff action = iota
	immediately
	refreshToken
)

// closeError is a connection the server closed with a code.
type closeError struct {
	code int
	text string
}

func (e *closeError) Error() string { return fmt.Sprintf("closed by server: %d %s", e.code, e.text) }

// CloseCode returns the close code of an error passed to OnState, or 0.
func CloseCode(err error) int {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 0
}

// classify maps why a connection ended to what to do next.
func classify(err error) action {
	if errors.Is(err, ErrUnauthorized) {
		return refreshToken
	}
	switch CloseCode(err) {
	case CloseTokenExpired:
		return refreshToken
	case CloseGoingAway, CloseServiceReboot:
		return immediately
	}
	return backOff
}

// session runs one connection; up reports whether it got as far as the
// user channel's "subscribed".
func (c *Client) session(ctx context.Context, endpoint, token string) (up bool, err error) {
	ws, err := c.dial(ctx, endpoint, token)
	if err != nil {
		return false, err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { _ = ws.SetReadDeadline(time.Now()) })
	defer stop()
	// A frame that arrives as the context ends must not move the deadline
	// stop set back into the future, or the session outlives Run's context.
	extend := func() {
		if ctx.Err() != nil {
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		if ctx.Err() != nil {
			_ = ws.SetReadDeadline(time.Now())
		}
	}
	extend()
	ws.SetPingHandler(func(data string) error {
		extend()
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
	})
	done := make(chan struct{})
	defer close(done)
	go c.heartbeat(ws, done)

	defer func() {
		c.mu.Lock()
		c.ws = nil
		c.mu.Unlock()
	}()
	for {
		_, raw, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return up, &closeError{code: ce.Code, text: ce.Text}
			}
			return up, fmt.Errorf("realtime client: read: %w", err)
		}
		extend()
		var f Frame
		if err := json.Unmarshal(raw, &f); err != nil {
			continue // not ours to understand; the protocol only adds fields
		}
		if !up && f.Type == "subscribed" && strings.HasPrefix(f.Channel, "user:") {
			up = true
			c.connected(ws, f)
		}
		if c.accept(f) {
			c.opts.OnFrame(f)
		}
	}
}

// dial opens a connection resuming the user channel from where it stands.
func (c *Client) dial(ctx context.Context, endpoint, token string) (*websocket.Conn, error) {
	q := url.Values{"token": {token}}
	c.mu.Lock()
	if p := c.chans[""]; p != nil && p.known {
		q.Set("since", strconv.FormatUint(p.seq, 10))
		q.Set("epoch", p.epoch)
	}
	c.mu.Unlock()
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	ws, resp, err := c.opts.Dialer.DialContext(ctx, endpoint+sep+q.Encode(), nil)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, ErrUnauthorized
		}
		if resp != nil {
			return nil, fmt.Errorf("realtime client: dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("realtime client: dial: %w", err)
	}
	return ws, nil
}

// connected records the live connection and resubscribes every channel
// the client holds, each from where it stands.
func (c *Client) connected(ws *websocket.Conn, first Frame) {
	c.mu.Lock()
	c.user = first.Channel
	c.stats.Connects++
	c.ws = ws
	ops := make([]map[string]any, 0, len(c.chans))
	for ch := range c.chans {
		if ch != "" {
			ops = append(ops, c.subscribeOp(ch))
		}
	}
	c.mu.Unlock()
	c.opts.OnState(true, nil)
	for _, op := range ops {
		if c.write(ws, op) != nil {
			return // the read loop sees the broken connection
		}
	}
}

// accept updates the channel's position from f and reports whether to
// hand f on: a push at or below the position (same epoch) is a repeat.
func (c *Client) accept(f Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := f.Channel
	if ch == c.user && ch != "" {
		ch = ""
	}
	p := c.chans[ch]
	if p == nil {
		if ch != "" || f.Channel == "" {
			return true // control frames, channels not held
		}
		p = &position{}
		c.chans[""] = p
	}
	switch f.Type {
	case "subscribed":
		if !p.known {
			p.epoch, p.seq, p.known = f.Epoch, f.Seq, true
		}
		// Resuming: the missed pushes follow, or a resume-gap.
		p.head, p.afterHead = mark{f.Epoch, f.Seq}, true
		return true
	case "resume-gap":
		c.stats.Gaps++
		switch {
		case p.afterHead:
			// After "subscribed": the stream goes on from its head.
			p.epoch, p.seq = p.head.epoch, p.head.seq
		case f.Epoch != p.epoch:
			// Live, a new epoch: its seqs start again at 1.
			p.epoch, p.seq = f.Epoch, 0
		}
		p.known, p.afterHead = true, false
		return true
	case "unsubscribed", "error", "presence", "pong":
		return true
	}
	if f.Seq == 0 {
		return true
	}
	p.afterHead = false
	if p.known && p.epoch == f.Epoch && f.Seq <= p.seq {
		c.stats.Dropped++
		return false
	}
	p.epoch, p.seq, p.known = f.Epoch, f.Seq, true
	return true
}

// heartbeat sends pings until done: the server answers each with a pong,
// and its own WebSocket pings keep the read deadline moving too.
func (c *Client) heartbeat(ws *websocket.Conn, done <-chan struct{}) {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if c.write(ws, map[string]string{"op": "ping"}) != nil {
				return
			}
		}
	}
}
