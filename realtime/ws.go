package realtime

// The server side of RFC 6455, as much of it as this endpoint needs. It is
// ours, not a library's, for memory: a library connection keeps a read and
// a write buffer and, behind Fiber, the whole fasthttp request context for
// as long as the socket lives, about 24 KiB per idle phone. Here an idle
// connection holds its socket, a few small structs and one parked reader
// goroutine (none on Linux: see poll_linux.go); frames are built once per
// push and written with one syscall. DESIGN.md names gofiber/contrib/websocket;
// issue 14's 10 KiB per idle socket is out of its reach, and the part we
// need (server side, no extensions, small text commands) is this file.

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes sent to clients (RFC 6455 section 7.4, and ours from 4000).
const (
	closeNormal      = 1000
	closeProtocol    = 1002 // a frame broke RFC 6455
	closeInvalidData = 1007 // a text frame that is not UTF-8
	closePolicy      = 1008 // too slow to drain its queue, or flooding
	closeTooBig      = 1009 // a message over maxFrameBytes
	closeInternal    = 1011
	// closeRestart (1012) drains a stopping node: reconnect, to another
	// node, resuming; the hub spreads these over its DrainPeriod.
	closeRestart  = 1012
	closeTryAgain = 1013 // the broker is unavailable
	// closeTokenExpired (4001) tells the client its token expired: get a
	// fresh one and reconnect, resuming with since and epoch.
	closeTokenExpired = 4001
)

// wsGUID is the handshake's fixed key suffix (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// isUpgrade reports whether the request asks for a WebSocket.
func isUpgrade(c *fiber.Ctx) bool {
	return headerHas(c.Get(fiber.HeaderConnection), "upgrade") &&
		headerHas(c.Get(fiber.HeaderUpgrade), "websocket")
}

// headerHas reports whether a comma-separated header holds token.
func headerHas(header, token string) bool {
	for part := range strings.SplitSeq(header, ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// acceptKey answers a handshake's Sec-WebSocket-Key; ok is false when the
// key is not 16 bytes in base64, as the RFC requires.
func acceptKey(key string) (accept string, ok bool) {
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return "", false
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:]), true
}

// appendFrame appends one unmasked, final frame (servers never mask).
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// textFrame is payload as one text frame, ready for the socket.
func textFrame(payload []byte) []byte {
	return appendFrame(make([]byte, 0, len(payload)+10), opText, payload)
}

// closeFrame is a close frame with code and reason; the reason is cut to
// fit the 125 bytes a control frame may carry, at a rune boundary.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	payload := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	return appendFrame(nil, opClose, append(payload, reason...))
}

// closeError is why a read loop ended with the close code the server
// answers with: the client's close (1000), or a frame it had no right to
// send.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("websocket close %d: %s", e.code, e.reason) }

// frameReader reads client frames straight off the socket, without a
// buffer of its own: client frames are a few small commands a minute, and
// an idle connection should hold nothing.
type frameReader struct {
	r   io.Reader
	hdr [8]byte
}

// readMessage returns the next data message, reassembled from fragments,
// and hands each control frame (ping, pong) to control; ok is false when
// only control frames arrived, so a caller woken by a readable socket
// never waits for more than it was woken for. A close frame ends it with
// closeError{1000}; a protocol breach with the closeError to answer
// with; a message over limit with 1009.
func (fr *frameReader) readMessage(limit int, control func(op byte, payload []byte)) (msg []byte, ok bool, err error) {
	started := false
	for {
		fin, op, payload, err := fr.readFrame(limit - len(msg))
		if err != nil {
			return nil, false, err
		}
		switch {
		case op == opClose:
			return nil, false, &closeError{code: closeNormal}
		case op > opClose:
			control(op, payload)
			if !started {
				return nil, false, nil
			}
			continue
		case op == opContinuation && !started:
			return nil, false, &closeError{closeProtocol, "continuation without a first frame"}
		case op != opContinuation && started:
			return nil, false, &closeError{closeProtocol, "a new message inside a fragmented one"}
		}
		started = true
		msg = append(msg, payload...)
		if fin {
			if !utf8.Valid(msg) {
				return nil, false, &closeError{closeInvalidData, "text frames are UTF-8"}
			}
			return msg, true, nil
		}
	}
}

// readFrame reads one frame of at most limit payload bytes (control frames
// are always read: they are 125 bytes at most) and unmasks it.
func (fr *frameReader) readFrame(limit int) (fin bool, op byte, payload []byte, err error) {
	h := fr.hdr[:2]
	if _, err := io.ReadFull(fr.r, h); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0F
	masked, n := h[1]&0x80 != 0, uint64(h[1]&0x7F)
	switch {
	case h[0]&0x70 != 0:
		return false, 0, nil, &closeError{closeProtocol, "no extension was negotiated"}
	case op == opBinary:
		return false, 0, nil, &closeError{closeInvalidData, "frames are JSON text"}
	case op > opText && op != opClose && op != opPing && op != opPong:
		return false, 0, nil, &closeError{closeProtocol, "unknown opcode"}
	case !masked:
		return false, 0, nil, &closeError{closeProtocol, "client frames are masked"}
	case op >= opClose && (n > 125 || !fin):
		return false, 0, nil, &closeError{closeProtocol, "control frames are short and whole"}
	}
	switch n {
	case 126:
		if _, err := io.ReadFull(fr.r, fr.hdr[:2]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(fr.hdr[:2]))
	case 127:
		if _, err := io.ReadFull(fr.r, fr.hdr[:8]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(fr.hdr[:8])
	}
	if op < opClose && n > uint64(max(limit, 0)) {
		return false, 0, nil, &closeError{closeTooBig, fmt.Sprintf("messages are at most %d bytes", maxFrameBytes)}
	}
	var mask [4]byte
	if _, err := io.ReadFull(fr.r, mask[:]); err != nil {
		return false, 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return false, 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	return fin, op, payload, nil
}

// rawConn is the socket under fasthttp's hijacked connection. Reading it
// directly skips fasthttp's read buffer, which fasthttp takes back when
// the hijack handler returns; that is safe because a client sends nothing
// after its handshake until it has the server's answer (RFC 6455 4.1).
func rawConn(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}
