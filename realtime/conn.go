package realtime

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Close codes sent to clients.
const (
	closeNormal    = websocket.CloseNormalClosure
	closeGoingAway = websocket.CloseGoingAway
	closePolicy    = websocket.ClosePolicyViolation // too slow to drain its queue
)

// conn is one client connection. Exactly one goroutine (writeLoop) writes
// to the socket, fed by the bounded send queue: concurrent writes panic in
// fasthttp/websocket, and a slow client must never stall the hub.
type conn struct {
	hub  *Hub
	id   Identity
	ws   *websocket.Conn
	send chan []byte

	quit      chan struct{}
	killOnce  sync.Once
	code      int
	reason    string
	writeDone chan struct{}

	mu   sync.Mutex
	subs map[string]*sub // broker channel -> state
}

// sub is one channel of a connection. While buffering (a resume is
// fetching history), live messages wait in pending; last is the highest
// seq sent, so nothing is sent twice when history and live overlap.
type sub struct {
	client    string
	last      uint64
	buffering bool
	pending   []Message
}

func newConn(h *Hub, id Identity, ws *websocket.Conn) *conn {
	return &conn{
		hub: h, id: id, ws: ws, send: make(chan []byte, h.opts.QueueSize),
		quit: make(chan struct{}), writeDone: make(chan struct{}), subs: map[string]*sub{},
	}
}

// kill asks the writer to send a close frame and drop the connection. It
// never blocks, so it may be called from the hub's delivery path.
func (c *conn) kill(code int, reason string) {
	c.killOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.quit)
	})
}

// enqueue queues a frame; a full queue means the client does not keep up,
// and it is disconnected rather than allowed to hold anything up.
func (c *conn) enqueue(frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.kill(closePolicy, "too slow: send queue full")
		// The writer is likely stuck on a full socket: make that write
		// fail now instead of after the write timeout.
		_ = c.ws.NetConn().SetWriteDeadline(time.Now())
	}
}

// deliver is the hub's live path for one message on one of c's channels.
func (c *conn) deliver(m Message, frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[m.Channel]
	switch {
	case s == nil:
	case s.buffering:
		s.pending = append(s.pending, m)
	case m.Seq > s.last:
		s.last = m.Seq
		c.enqueue(frame)
	}
}

func (c *conn) channels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for ch := range c.subs {
		out = append(out, ch)
	}
	return out
}

// sendFrame encodes and queues a control frame (replies, errors, pongs).
func (c *conn) sendFrame(f outFrame) {
	b, err := json.Marshal(f)
	if err == nil {
		c.enqueue(b)
	}
}

func (c *conn) sendError(channel, code, msg string) {
	data, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	c.sendFrame(outFrame{Type: "error", Channel: channel, Data: data})
}

// subscribe joins a client channel; with since set it first replays what
// the client missed. The order makes the resume gap-free: join the live
// stream (buffering), read history, send history, then flush the buffer,
// skipping every seq already sent.
func (c *conn) subscribe(ctx context.Context, client string, since *uint64) {
	bc := brokerChannel(c.id.Tenant, client)
	c.mu.Lock()
	if s, ok := c.subs[bc]; ok {
		c.mu.Unlock()
		c.sendFrame(outFrame{Type: "subscribed", Channel: client, Seq: s.last})
		return
	}
	if len(c.subs) >= c.hub.opts.MaxSubscriptions {
		c.mu.Unlock()
		c.sendError(client, "too-many-subscriptions", "unsubscribe from something first")
		return
	}
	s := &sub{client: client, buffering: since != nil}
	c.subs[bc] = s
	c.mu.Unlock()

	if err := c.hub.subscribe(ctx, c, bc); err != nil {
		c.mu.Lock()
		delete(c.subs, bc)
		c.mu.Unlock()
		c.hub.opts.Logger.Warn("realtime: subscribe failed", "channel", bc, "err", err)
		c.sendError(client, "unavailable", "could not subscribe; try again")
		return
	}
	if since == nil {
		c.sendFrame(outFrame{Type: "subscribed", Channel: client})
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	msgs, complete, err := c.hub.broker.History(hctx, bc, *since)
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	s.last = *since
	c.sendFrame(outFrame{Type: "subscribed", Channel: client, Seq: *since})
	if err != nil || !complete {
		// The client missed more than the history holds: it must refetch
		// state over REST; live frames continue.
		c.sendFrame(outFrame{Type: "resume-gap", Channel: client})
	}
	for _, list := range [][]Message{msgs, s.pending} {
		for _, m := range list {
			if m.Seq <= s.last {
				continue
			}
			s.last = m.Seq
			c.sendFrame(outFrame{Type: m.Type, Channel: client, Seq: m.Seq, Data: m.Data})
		}
	}
	s.pending, s.buffering = nil, false
}

func (c *conn) unsubscribe(ctx context.Context, client string) {
	bc := brokerChannel(c.id.Tenant, client)
	c.mu.Lock()
	_, ok := c.subs[bc]
	delete(c.subs, bc)
	c.mu.Unlock()
	if ok {
		c.hub.unsubscribe(ctx, c, bc)
	}
	c.sendFrame(outFrame{Type: "unsubscribed", Channel: client})
}

// writeLoop is the only writer of the socket. It ends by sending a close
// frame and closing the socket, which also ends the handler's read loop.
func (c *conn) writeLoop() {
	defer close(c.writeDone)
	ping := time.NewTicker(c.hub.opts.PingInterval)
	defer ping.Stop()
	timeout := c.hub.opts.WriteTimeout
	for {
		select {
		case b := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.kill(closeNormal, "")
				c.stopReader(0)
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
				c.kill(closeNormal, "")
				c.stopReader(0)
				return
			}
		case <-c.quit:
			msg := websocket.FormatCloseMessage(c.code, c.reason)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			c.stopReader(closeGrace)
			return
		}
	}
}

// closeGrace is how long a client has to answer our close frame before
// the read loop stops waiting for it.
const closeGrace = time.Second

// stopReader ends the handler's read loop within grace. Closing the socket
// would not do: fasthttp owns a hijacked connection and closes it only when
// the handler returns, so the read deadline is what wakes the reader.
func (c *conn) stopReader(grace time.Duration) {
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(grace))
}
