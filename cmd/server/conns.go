package main

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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

// Accept waits out a full descriptor table (EMFILE, ENFILE) instead of
// failing: fasthttp takes any accept error but a timeout as permanent and
// stops serving, so a crowd of sockets beyond the open-file limit would
// end the process. Like net/http, it backs off (5 ms doubling to 1 s)
// while closing connections free descriptors.
func (l trackedListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return &trackedConn{Conn: c}, nil
		}
		if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
			return nil, err
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
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

// SyscallConn lets the realtime poller watch an upgraded socket.
func (c *trackedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
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
