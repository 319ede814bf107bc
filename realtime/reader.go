package realtime

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// The read side of a connection. On Linux the hub's poller starts a read
// when the socket becomes readable, so an idle connection holds no
// goroutine; elsewhere, and for sockets epoll cannot watch, readLoop
// reads in a goroutine of its own. Both end the same way, in end.

// readTimeout is how long a client may stay silent (no frame, no pong)
// before the connection is dropped as dead.
func (c *conn) readTimeout() time.Duration {
	return 2*c.hub.opts.PingInterval + c.hub.opts.WriteTimeout
}

// readLoop reads frames until the connection ends.
func (c *conn) readLoop() {
	defer c.recoverRead()
	for c.readOne() {
	}
}

// readable reads one message, or the control frames that arrived, and
// waits for more.
func (c *conn) readable() {
	defer c.recoverRead()
	// What started to arrive must arrive whole in good time.
	_ = c.nc.SetReadDeadline(time.Now().Add(c.readTimeout()))
	if !c.readOne() {
		return
	}
	if err := c.poll.rearm(); err != nil {
		c.end(closeInternal, "")
	}
}

// readOne reads one message, or the control frames that arrived, and
// runs it; false when the read ended the connection.
func (c *conn) readOne() bool {
	raw, ok, err := c.fr.readMessage(maxFrameBytes, c.control)
	if err != nil {
		c.endRead(err)
		return false
	}
	if ok {
		c.handle(raw)
	}
	return true
}

// control notes a ping or pong from the client; a ping gets its pong.
func (c *conn) control(op byte, payload []byte) {
	c.heard()
	if op == opPing {
		c.enqueue(appendFrame(nil, opPong, payload))
	}
}

func (c *conn) heard() { c.lastRead.Store(time.Now().UnixNano()) }

// handle runs one command. A client gets a steady budget of them; one
// that floods is cut off rather than allowed to make the node churn
// subscriptions. A closing connection reads on, until the client's close
// frame or the grace ends, but runs nothing.
func (c *conn) handle(raw []byte) {
	c.heard()
	switch {
	case c.killed():
	case !c.budget.Allow():
		c.kill(closePolicy, "too many commands")
	default:
		c.hub.command(c, raw)
	}
}

// endRead ends the connection for why the read stopped: the client's
// close is answered with 1000, a broken frame with its own code.
func (c *conn) endRead(err error) {
	code, reason := closeNormal, ""
	var ce *closeError
	if errors.As(err, &ce) {
		code, reason = ce.code, ce.reason
	}
	c.end(code, reason)
}

func (c *conn) recoverRead() {
	if r := recover(); r != nil {
		c.hub.opts.Logger.Error("realtime: connection panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.end(closeInternal, "")
	}
}

// end closes the connection, once, whoever asks first (the reader, the
// heartbeat, a close's grace running out): the close frame kill asked
// for, the writer waited for, the hub told, the socket closed. Later
// callers wait for the first.
func (c *conn) end(code int, reason string) {
	c.endOnce.Do(func() {
		c.kill(code, reason)
		// A writer stuck on a dead socket gives up now.
		_ = c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.finish()
		if c.expiry != nil {
			c.expiry.Stop()
		}
		c.hub.remove(c)
		c.qmu.Lock()
		reg := c.poll // finish set closeSent: the poller registers no more
		if c.grace != nil {
			c.grace.Stop()
		}
		c.qmu.Unlock()
		if reg != nil {
			reg.leave()
		}
		// A reading goroutine wakes by the deadline: fasthttp's buffered
		// hijacked connection ignores Close.
		_ = c.nc.SetReadDeadline(time.Now())
		_ = c.nc.Close()
	})
}
