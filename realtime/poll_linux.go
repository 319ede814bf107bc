package realtime

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// poller waits for client frames on every socket of a hub with one epoll
// instance and one goroutine, so an idle connection has no goroutine of
// its own, and no stack: a socket becomes readable, a goroutine reads one
// message and handles it, and the socket is armed again. Go's runtime
// keeps its own registration of the descriptor for the reads and writes
// themselves; this one only says when to start reading.
type poller struct {
	epfd int
	wake [2]int // a byte on wake[1] stops run

	mu     sync.Mutex
	conns  map[uint64]*conn // registration id -> connection
	next   uint64
	closed bool
	done   chan struct{}
}

// pollEvents: level-triggered, so bytes left after one message fire again
// at once; one-shot, so one goroutine at a time reads a socket.
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("realtime: epoll: %w", err)
	}
	p := &poller{epfd: epfd, conns: map[uint64]*conn{}, done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("realtime: epoll wake pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("realtime: epoll wake pipe: %w", err)
	}
	return p, nil
}

// run hands each readable socket to a goroutine until stop.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return // stop ends the connections
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				go c.readable()
			}
		}
	}
}

// add registers c's socket; false when the socket is not one epoll can
// watch (then a goroutine reads it) or the poller stopped; true, without
// registering, when the connection is ending anyway.
func (p *poller) add(c *conn) bool {
	fd, ok := socketFD(c.nc)
	if !ok {
		return false
	}
	// The connection may be ending already (its close grace ran out
	// during the subscribe): then there is nothing to read, and end, which
	// reads c.poll under the same lock, must see either no registration or
	// this one.
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closeSent {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.next++
	id := p.next
	c.poll = &pollReg{p: p, fd: fd, id: id}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, epollEvent(id)); err != nil {
		c.poll = nil
		return false
	}
	p.conns[id] = c
	return true
}

func epollEvent(id uint64) *syscall.EpollEvent {
	return &syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// stop ends run, then every connection still registered.
func (p *poller) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wake[1], []byte{0})
	<-p.done
	p.mu.Lock()
	left := make([]*conn, 0, len(p.conns))
	for _, c := range p.conns {
		left = append(left, c)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range left {
		wg.Go(func() { c.end(closeRestart, "server stopping: reconnect elsewhere") })
	}
	wg.Wait()
	p.closeFDs()
}

func (p *poller) closeFDs() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}

// pollReg is a connection's registration. Arming again and leaving are
// serialised, and leaving comes before the socket is closed: a stale
// re-arm after close could otherwise hit a new socket that reused the
// descriptor number.
type pollReg struct {
	p  *poller
	fd int
	id uint64

	mu   sync.Mutex
	left bool
}

// rearm waits for the next frame.
func (r *pollReg) rearm() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left {
		return nil
	}
	return syscall.EpollCtl(r.p.epfd, syscall.EPOLL_CTL_MOD, r.fd, epollEvent(r.id))
}

// leave deregisters; the caller closes the socket afterwards.
func (r *pollReg) leave() {
	r.mu.Lock()
	r.left = true
	_ = syscall.EpollCtl(r.p.epfd, syscall.EPOLL_CTL_DEL, r.fd, nil)
	r.mu.Unlock()
	r.p.mu.Lock()
	delete(r.p.conns, r.id)
	r.p.mu.Unlock()
}

// socketFD is the descriptor of a TCP socket; false for anything else,
// such as fasthttp's buffered hijacked connection.
func socketFD(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, false
	}
	return fd, fd >= 0
}
