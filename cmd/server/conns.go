package main

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// connTracker lets shutdown close connections that carry no request.
// fasthttp closes idle keep-alive connections itself, but a connection a
// client opened and never used (clients pre-dial them) sits in its first
// header read until the read timeout, holding shutdown up that long.
type connTracker struct {
	mu    sync.Mutex
	state map[net.Conn]fasthttp.ConnState
}

func trackConns(s *fasthttp.Server) *connTracker {
	t := &connTracker{state: map[net.Conn]fasthttp.ConnState{}}
	s.ConnState = func(c net.Conn, st fasthttp.ConnState) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if st == fasthttp.StateClosed || st == fasthttp.StateHijacked {
			delete(t.state, c)
			return
		}
		t.state[c] = st
	}
	return t
}

// listener wraps ln so the tracker can tell a connection that never sent
// a byte from one with a request on its way.
func (t *connTracker) listener(ln net.Listener) net.Listener { return trackedListener{ln} }

type trackedListener struct{ net.Listener }

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &trackedConn{Conn: c}, nil
}

type trackedConn struct {
	net.Conn
	used atomic.Bool
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.used.Store(true)
	}
	return n, err
}

// closeUnused closes idle connections and ones that never sent a byte.
func (t *connTracker) closeUnused() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, st := range t.state {
		tc, ok := c.(*trackedConn)
		if st == fasthttp.StateIdle || (ok && !tc.used.Load()) {
			_ = c.Close()
		}
	}
}
