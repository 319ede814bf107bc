package realtime

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Close codes sent to clients.
const (
	closeNormal = websocket.CloseNormalClosure
	// closeRestart (1012) drains a stopping node: reconnect, to another
	// node, resuming; the hub spreads these over its DrainPeriod.
	closeRestart  = websocket.CloseServiceRestart
	closePolicy   = websocket.ClosePolicyViolation // 1008: too slow to drain its queue, or flooding
	closeInternal = websocket.CloseInternalServerErr
	closeTryAgain = websocket.CloseTryAgainLater // 1013: the broker is unavailable
	// closeTokenExpired (4001) tells the client its token expired: get a
	// fresh one and reconnect, resuming with since and epoch.
	closeTokenExpired = 4001
)

// closeGrace is how long a client has to answer our close frame before
// the read loop stops waiting for it.
const closeGrace = time.Second

// conn is one client connection. Exactly one goroutine (writeLoop) writes
// data frames to the socket, fed by the bounded send queue: concurrent
// writes panic in fasthttp/websocket, and a slow client must never stall
// the hub. Enqueueing never blocks; a full queue disconnects the client.
//
// The queue is a slice that is dropped whenever it empties, not a
// buffered channel: a channel of QueueSize slots costs 6 KiB per
// connection up front, idle or not, and most connections are idle.
type conn struct {
	hub *Hub
	id  Identity
	ws  *websocket.Conn

	qmu  sync.Mutex
	outq [][]byte      // frames waiting for the writer, at most QueueSize
	wake chan struct{} // the queue has frames (capacity 1)

	quit      chan struct{} // closed by kill
	killOnce  sync.Once
	code      int // close code and reason, set once by kill
	reason    string
	writeDone chan struct{}

	mu   sync.Mutex
	subs map[string]*sub // broker channel -> state
}

// sub is one channel of a connection. While buffering (the subscription
// is being set up: latest seq, maybe history), live messages wait in
// pending. last is the highest seq sent in epoch, so nothing is sent twice
// when history and live overlap, and a jump past last+1 or to another
// epoch is reported.
type sub struct {
	client    string
	epoch     string // "" until the channel has one
	last      uint64
	buffering bool
	pending   []Message
}

func newConn(h *Hub, id Identity, ws *websocket.Conn) *conn {
	return &conn{
		hub: h, id: id, ws: ws, wake: make(chan struct{}, 1),
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

func (c *conn) killed() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// enqueue queues a frame. A full queue means the client does not keep up:
// it is disconnected rather than allowed to hold anything up.
func (c *conn) enqueue(frame []byte) {
	if c.killed() {
		return
	}
	c.qmu.Lock()
	full := len(c.outq) >= c.hub.opts.QueueSize
	if !full {
		c.outq = append(c.outq, frame)
	}
	c.qmu.Unlock()
	if !full {
		select {
		case c.wake <- struct{}{}:
		default: // the writer is awake already
		}
	} else {
		c.kill(closePolicy, "too slow: send queue full")
		// The writer sends the close frame next, unless it is stuck on a
		// full socket: then its write fails after cutDelay instead of
		// after the write timeout. Not at once: a frame cut halfway
		// leaves no way to send a close frame after it, while a client
		// that reads again within cutDelay gets its backlog and the 1008
		// close frame, and knows why it was dropped.
		time.AfterFunc(cutDelay, func() {
			select {
			case <-c.writeDone:
			default:
				_ = c.ws.NetConn().SetWriteDeadline(time.Now())
			}
		})
	}
}

// cutDelay is how long a writer of a client being cut may go on with the
// write in progress.
const cutDelay = 2 * time.Second

// queue encodes and queues a control frame (replies, errors, pongs).
func (c *conn) queue(f any) {
	if b, err := json.Marshal(f); err == nil {
		c.enqueue(b)
	}
}

func (c *conn) sendError(channel, code, msg string) {
	data, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	c.queue(outFrame{Type: "error", Channel: channel, Data: data})
}

// deliver is the hub's live path for one message on one of c's channels;
// frame is m encoded for clients.
func (c *conn) deliver(m Message, frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[m.Channel]
	switch {
	case s == nil:
	case s.buffering:
		if len(s.pending) >= c.hub.opts.QueueSize {
			c.kill(closeTryAgain, "too far behind")
			return
		}
		s.pending = append(s.pending, m)
	default:
		c.push(s, m, frame)
	}
}

// push sends m unless it was sent already; a jump in seq (the broker's
// history could not fill a gap) or to another epoch (the broker lost the
// channel's counter, which started again at 1) is announced as a
// resume-gap first, so the client refetches state. c.mu is held; frame
// may be nil.
func (c *conn) push(s *sub, m Message, frame []byte) {
	switch {
	case s.epoch != "" && m.Epoch != s.epoch:
		// A new epoch: its seqs are all new, however low.
		c.queue(outFrame{Type: "resume-gap", Channel: s.client, Epoch: m.Epoch})
	case m.Seq <= s.last:
		return
	case m.Seq > s.last+1:
		c.queue(outFrame{Type: "resume-gap", Channel: s.client, Epoch: m.Epoch})
	}
	s.epoch, s.last = m.Epoch, m.Seq
	if frame == nil {
		var err error
		if frame, err = json.Marshal(outFrame{Type: m.Type, Channel: s.client, Epoch: m.Epoch, Seq: m.Seq, Data: m.Data}); err != nil {
			return
		}
	}
	c.enqueue(frame)
}

// dropAll forgets every subscription of c and returns their channels.
func (c *conn) dropAll() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for ch := range c.subs {
		out = append(out, ch)
	}
	clear(c.subs)
	return out
}

// subscribe joins a client channel and answers with its head (epoch and
// latest seq); with since set it first replays what the client missed.
// The order makes it gap-free: join the live stream (buffering), read the
// head and the history, send the history, then the buffer, skipping every
// seq already sent. When the history no longer reaches back to since, or
// since is of another epoch, the client gets a resume-gap frame and the
// stream continues live from the head. The error is the broker's, after
// the client was told.
func (c *conn) subscribe(client string, since *Position) error {
	bc := brokerChannel(c.id.Tenant, client)
	c.mu.Lock()
	if s, ok := c.subs[bc]; ok {
		epoch, last := s.epoch, s.last
		c.mu.Unlock()
		c.queue(subscribedFrame{Type: "subscribed", Channel: client, Epoch: epoch, Seq: last})
		return nil
	}
	if len(c.subs) >= c.hub.opts.MaxSubscriptions {
		c.mu.Unlock()
		c.sendError(client, "too-many-subscriptions", "unsubscribe from something first")
		return nil
	}
	s := &sub{client: client, buffering: true}
	c.subs[bc] = s
	c.mu.Unlock()

	fail := func(err error) error {
		c.mu.Lock()
		delete(c.subs, bc)
		c.mu.Unlock()
		c.hub.opts.Logger.Warn("realtime: subscribe failed", "channel", bc, "err", err)
		c.sendError(client, "unavailable", "could not subscribe; try again")
		return err
	}
	if err := c.hub.subscribe(c, bc); err != nil {
		return fail(err)
	}
	head, err := c.hub.head(bc)
	if err != nil {
		c.hub.unsubscribe(c, bc)
		return fail(err)
	}
	var hist []Message
	complete := true
	if since != nil {
		if hist, complete, err = c.hub.history(bc, *since); err != nil {
			c.hub.opts.Logger.Warn("realtime: history failed", "channel", bc, "err", err)
			hist, complete = nil, false
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[bc] != s {
		return nil // dropped meanwhile: the connection is closing
	}
	c.queue(subscribedFrame{Type: "subscribed", Channel: client, Epoch: head.Epoch, Seq: head.Seq})
	switch {
	case since == nil:
		s.epoch, s.last = head.Epoch, head.Seq
	case complete:
		s.epoch, s.last = head.Epoch, since.Seq
		for _, m := range hist {
			c.push(s, m, nil)
		}
	default:
		c.queue(outFrame{Type: "resume-gap", Channel: client, Epoch: head.Epoch})
		s.epoch, s.last = head.Epoch, head.Seq
	}
	for _, m := range s.pending {
		c.push(s, m, nil)
	}
	s.pending, s.buffering = nil, false
	return nil
}

// unsubscribe leaves a client channel.
func (c *conn) unsubscribe(client string) {
	bc := brokerChannel(c.id.Tenant, client)
	c.mu.Lock()
	_, ok := c.subs[bc]
	delete(c.subs, bc)
	c.mu.Unlock()
	if ok {
		c.hub.unsubscribe(c, bc)
	}
	c.queue(outFrame{Type: "unsubscribed", Channel: client})
}

// writeLoop is the only writer of data frames. It ends by sending a close
// frame, after which the handler's read loop ends too.
func (c *conn) writeLoop() {
	defer close(c.writeDone)
	defer func() {
		// Not covered by Fiber's or the websocket middleware's recover.
		if r := recover(); r != nil {
			c.hub.opts.Logger.Error("realtime: writer panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.kill(closeInternal, "")
			c.stopReader(0)
		}
	}()
	ping := time.NewTicker(c.hub.opts.PingInterval)
	defer ping.Stop()
	timeout := c.hub.opts.WriteTimeout
	for {
		// A requested close goes before whatever is still queued.
		select {
		case <-c.quit:
			c.writeClose()
			return
		default:
		}
		select {
		case <-c.quit:
			c.writeClose()
			return
		case <-c.wake:
			if !c.writeQueued(timeout) {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
				c.kill(closeNormal, "")
				c.stopReader(0)
				return
			}
		}
	}
}

// writeQueued writes what is queued, oldest first; it stops early when a
// close is requested (the caller sends it) and reports false when the
// socket failed.
func (c *conn) writeQueued(timeout time.Duration) bool {
	for !c.killed() {
		c.qmu.Lock()
		if len(c.outq) == 0 {
			c.outq = nil // an idle connection holds no buffer
			c.qmu.Unlock()
			return true
		}
		b := c.outq[0]
		c.outq[0] = nil
		c.outq = c.outq[1:]
		c.qmu.Unlock()
		_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.kill(closeNormal, "")
			c.stopReader(0)
			return false
		}
	}
	return true
}

// writeClose sends the close frame kill asked for and gives the client
// closeGrace to answer it.
func (c *conn) writeClose() {
	msg := websocket.FormatCloseMessage(c.code, c.reason)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.stopReader(closeGrace)
}

// stopReader ends the handler's read loop within grace. Closing the socket
// would not do: fasthttp owns a hijacked connection and closes it only when
// the handler returns, so the read deadline is what wakes the reader.
func (c *conn) stopReader(grace time.Duration) {
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(grace))
}
