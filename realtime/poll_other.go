//go:build !linux

package realtime

import "errors"

// poller is Linux-only (epoll); elsewhere a goroutine reads each socket.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.ErrUnsupported }
func (p *poller) run()            {}
func (p *poller) stop()           {}
func (p *poller) add(*conn) bool  { return false }

type pollReg struct{}

func (r *pollReg) rearm() error { return nil }
func (r *pollReg) leave()       {}
