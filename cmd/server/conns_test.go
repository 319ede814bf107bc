package main

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// fullListener fails its first accepts as a process out of descriptors
// does, then accepts.
type fullListener struct {
	net.Listener
	fails []error
}

func (l *fullListener) Accept() (net.Conn, error) {
	if len(l.fails) > 0 {
		err := l.fails[0]
		l.fails = l.fails[1:]
		return nil, err
	}
	c, _ := net.Pipe()
	return c, nil
}

// TestAcceptOutlastsFullDescriptorTable: EMFILE and ENFILE are waited
// out (fasthttp would stop serving on them); other errors pass through.
func TestAcceptOutlastsFullDescriptorTable(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	enfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)}
	l := trackedListener{&fullListener{fails: []error{emfile, enfile, emfile}}}
	c, err := l.Accept()
	if err != nil || c == nil {
		t.Fatalf("Accept after EMFILE/ENFILE = %v, %v", c, err)
	}
	closed := errors.New("use of closed network connection")
	l = trackedListener{&fullListener{fails: []error{closed}}}
	if _, err := l.Accept(); !errors.Is(err, closed) {
		t.Fatalf("Accept of a closed listener = %v", err)
	}
}
