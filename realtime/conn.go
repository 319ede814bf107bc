package realtime

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// closeGrace is how long a client has to answer our close frame before
// the connection ends without its answer.
const closeGrace = time.Second

// conn is one client connection. One goroutine at a time (writeLoop)
// writes to the socket, fed by the bounded send queue, so a slow client
// never stalls the hub; it runs only while there is something to write
// and exits when the queue is empty, so an idle connection costs no
// writing goroutine. Enqueueing never blocks; a full queue
// disconnects the client.
//
// The queue is a slice that is dropped whenever it empties, not a
// buffered channel: a channel of QueueSize slots costs 6 KiB per
// connection up front, idle or not, and most connections are idle.
type conn struct {
	hub *Hub
	id  Identity
	nc  net.Conn

	dead atomic.Bool // kill was called; set under qmu

	qmu       sync.Mutex
	idle      sync.Cond // broadcast when the writer stops
	outq      [][]byte  // wire frames waiting for the writer, at most QueueSize
	writing   bool      // a writeLoop runs
	closeSent bool      // no writer starts again: the close frame went out, the socket failed, or the connection ended
	code      int       // close code and reason, set once by kill
	reason    string
	pinger    *time.Timer
	grace     *time.Timer // endAfter's

	mu   sync.Mutex
	subs map[string]*sub // broker channel -> state

	// The read side (reader.go).
	fr       frameReader
	budget   *rate.Limiter
	lastRead atomic.Int64 // when the client last sent a frame, Unix ns
	expiry   *time.Timer  // the token's
	poll     *pollReg     // nil when a goroutine reads
	endOnce  sync.Once
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

func newConn(h *Hub, id Identity, nc net.Conn) *conn {
	c := &conn{
		hub: h, id: id, nc: nc, subs: map[string]*sub{},
		fr:     frameReader{r: nc},
		budget: rate.NewLimiter(rate.Limit(commandRate), commandBurst),
	}
	c.idle.L = &c.qmu
	c.heard()
	return c
}

// kill asks the writer to send a close frame, before anything still
// queued, and drop the connection. It never blocks, so it may be called
// from the hub's delivery path.
func (c *conn) kill(code int, reason string) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.dead.Load() {
		return
	}
	c.code, c.reason = code, reason
	c.dead.Store(true)
	c.wakeWriter()
}

func (c *conn) killed() bool { return c.dead.Load() }

// wakeWriter starts the writer unless it runs already. c.qmu is held.
func (c *conn) wakeWriter() {
	if !c.writing && !c.closeSent {
		c.writing = true
		go c.writeLoop()
	}
}

// enqueue queues a wire frame. A full queue means the client does not
// keep up: it is disconnected rather than allowed to hold anything up.
func (c *conn) enqueue(frame []byte) {
	c.qmu.Lock()
	if c.dead.Load() {
		c.qmu.Unlock()
		return
	}
	if len(c.outq) < c.hub.opts.QueueSize {
		c.outq = append(c.outq, frame)
		c.wakeWriter()
		c.qmu.Unlock()
		return
	}
	c.qmu.Unlock()
	c.kill(closePolicy, "too slow: send queue full")
	// The writer sends the close frame next, unless it is stuck on a full
	// socket: then its write fails after cutDelay instead of after the
	// write timeout. Not at once: a frame cut halfway leaves no way to
	// send a close frame after it, while a client that reads again within
	// cutDelay gets the frame in progress and the 1008 close frame, and
	// knows why it was dropped.
	time.AfterFunc(cutDelay, func() {
		c.qmu.Lock()
		stuck := c.writing
		c.qmu.Unlock()
		if stuck {
			_ = c.nc.SetWriteDeadline(time.Now())
		}
	})
}

// cutDelay is how long a writer of a client being cut may go on with the
// write in progress.
const cutDelay = 2 * time.Second

// startPings sends a ping every PingInterval, so dead peers and idle
// proxies are found; the client's pong counts as hearing from it. A
// client silent for readTimeout is dropped as dead.
func (c *conn) startPings() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.pinger = time.AfterFunc(c.hub.opts.PingInterval, c.ping)
}

func (c *conn) ping() {
	silent := time.Since(time.Unix(0, c.lastRead.Load()))
	if silent >= c.readTimeout() {
		c.end(closeNormal, "")
		return
	}
	c.qmu.Lock()
	if c.dead.Load() {
		c.qmu.Unlock()
		return
	}
	c.pinger.Reset(min(c.hub.opts.PingInterval, c.readTimeout()-silent))
	c.qmu.Unlock()
	c.enqueue(appendFrame(nil, opPing, nil))
}

// queue encodes and queues a control frame (replies, errors, pongs).
func (c *conn) queue(f any) {
	if b, err := json.Marshal(f); err == nil {
		c.enqueue(textFrame(b))
	}
}

func (c *conn) sendError(channel, code, msg string) {
	data, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	c.queue(outFrame{Type: "error", Channel: channel, Data: data})
}

// deliver is the hub's live path for one message on one of c's channels;
// frame is m encoded for clients, as a wire frame.
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
		b, err := json.Marshal(outFrame{Type: m.Type, Channel: s.client, Epoch: m.Epoch, Seq: m.Seq, Data: m.Data})
		if err != nil {
			return
		}
		frame = textFrame(b)
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

// writeLoop writes what is queued, oldest first, each frame with one
// write, and exits when the queue is empty. Once kill was called it sends
// the close frame instead; the connection ends when the client answers
// it, or after closeGrace.
func (c *conn) writeLoop() {
	defer func() {
		// Not covered by Fiber's recover: the writer is our goroutine.
		if r := recover(); r != nil {
			c.hub.opts.Logger.Error("realtime: writer panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.kill(closeInternal, "")
			c.writerDone(true)
		}
	}()
	timeout := c.hub.opts.WriteTimeout
	for {
		c.qmu.Lock()
		if c.dead.Load() {
			code, reason := c.code, c.reason
			c.outq = nil
			c.qmu.Unlock()
			c.writeClose(code, reason)
			return
		}
		if len(c.outq) == 0 {
			c.outq = nil // an idle connection holds no buffer
			c.writing = false
			c.idle.Broadcast()
			c.qmu.Unlock()
			return
		}
		b := c.outq[0]
		c.outq[0] = nil
		c.outq = c.outq[1:]
		c.qmu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := c.nc.Write(b); err != nil {
			c.kill(closeNormal, "")
			c.writerDone(true)
			return
		}
	}
}

// writerDone ends the writer; failed means the socket is of no more use,
// not even for a close frame, so the connection ends at once.
func (c *conn) writerDone(failed bool) {
	c.qmu.Lock()
	c.writing = false
	if failed {
		c.closeSent = true
	}
	c.idle.Broadcast()
	c.qmu.Unlock()
	if failed {
		c.endAfter(0)
	}
}

// writeClose sends the close frame kill asked for and gives the client
// closeGrace to answer it.
func (c *conn) writeClose(code int, reason string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.nc.Write(closeFrame(code, reason))
	c.writerDone(err != nil)
	c.endAfter(closeGrace)
}

// finish waits for the writer to stop and stops the pings; the reader is
// done. Nothing writes to the socket after it returns.
func (c *conn) finish() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.closeSent = true // no writer starts again
	for c.writing {
		c.idle.Wait()
	}
	if c.pinger != nil {
		c.pinger.Stop()
	}
}

// endAfter ends the connection after grace, time for the client to
// answer a close frame (its answer ends it sooner, and end stops the
// timer then, so an ended connection is not held for the rest of it).
func (c *conn) endAfter(grace time.Duration) {
	if grace <= 0 {
		go c.end(closeNormal, "")
		return
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.grace == nil {
		c.grace = time.AfterFunc(grace, func() { c.end(closeNormal, "") })
	}
}
