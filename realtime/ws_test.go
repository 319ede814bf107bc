package realtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	fws "github.com/fasthttp/websocket"
)

// clientFrame is one frame as a client sends it: masked.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask[:]...)
	for i, c := range payload {
		out = append(out, c^mask[i&3])
	}
	return out
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestFrameReader(t *testing.T) {
	unmasked := appendFrame(nil, opText, []byte("hi"))
	for _, tc := range []struct {
		name     string
		in       []byte
		want     string // the message, when no error
		wantCode int    // the close code the server answers with
		pings    int
	}{
		{"text", clientFrame(true, opText, []byte(`{"op":"ping"}`)), `{"op":"ping"}`, 0, 0},
		{"empty", clientFrame(true, opText, nil), "", 0, 0},
		{"16-bit length", clientFrame(true, opText, bytes.Repeat([]byte("a"), 300)), strings.Repeat("a", 300), 0, 0},
		{"fragments with a ping between", cat(clientFrame(false, opText, []byte("ab")), clientFrame(true, opPing, []byte("p")),
			clientFrame(false, opContinuation, []byte("cd")), clientFrame(true, opContinuation, []byte("e"))), "abcde", 0, 1},
		{"control frames first", cat(clientFrame(true, opPong, nil), clientFrame(true, opPing, nil), clientFrame(true, opText, []byte("x"))), "x", 0, 1},
		{"close", clientFrame(true, opClose, []byte{0x03, 0xe8}), "", closeNormal, 0},
		{"unmasked", unmasked, "", closeProtocol, 0},
		{"binary", clientFrame(true, opBinary, []byte("x")), "", closeInvalidData, 0},
		{"unknown opcode", clientFrame(true, 0x3, nil), "", closeProtocol, 0},
		{"reserved bit", append([]byte{0xC1}, clientFrame(true, opText, nil)[1:]...), "", closeProtocol, 0},
		{"fragmented ping", clientFrame(false, opPing, nil), "", closeProtocol, 0},
		{"long ping", clientFrame(true, opPing, bytes.Repeat([]byte("a"), 126)), "", closeProtocol, 0},
		{"lone continuation", clientFrame(true, opContinuation, []byte("x")), "", closeProtocol, 0},
		{"message inside a message", cat(clientFrame(false, opText, []byte("a")), clientFrame(true, opText, []byte("b"))), "", closeProtocol, 0},
		{"too big", clientFrame(true, opText, bytes.Repeat([]byte("a"), maxFrameBytes+1)), "", closeTooBig, 0},
		{"too big in fragments", cat(clientFrame(false, opText, bytes.Repeat([]byte("a"), maxFrameBytes)),
			clientFrame(true, opContinuation, []byte("b"))), "", closeTooBig, 0},
		{"64-bit length", clientFrame(true, opText, bytes.Repeat([]byte("a"), 70000)), "", closeTooBig, 0},
		{"not UTF-8", clientFrame(true, opText, []byte{0xff, 0xfe}), "", closeInvalidData, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pings := 0
			fr := frameReader{r: bytes.NewReader(tc.in)}
			var msg []byte
			var err error
			for ok := false; !ok && err == nil; {
				msg, ok, err = fr.readMessage(maxFrameBytes, func(op byte, payload []byte) {
					if op == opPing {
						pings++
					}
				})
			}
			var ce *closeError
			switch {
			case tc.wantCode != 0:
				if !errors.As(err, &ce) || ce.code != tc.wantCode {
					t.Fatalf("err %v, want close %d", err, tc.wantCode)
				}
			case err != nil:
				t.Fatalf("err %v", err)
			case string(msg) != tc.want || pings != tc.pings:
				t.Fatalf("message %q with %d pings, want %q with %d", msg, pings, tc.want, tc.pings)
			}
		})
	}
	// A frame cut short is the socket's error, not a close code.
	fr := frameReader{r: bytes.NewReader(clientFrame(true, opText, []byte("hello"))[:5])}
	if _, _, err := fr.readMessage(maxFrameBytes, func(byte, []byte) {}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short frame: %v", err)
	}
	// A control frame alone returns, so a reader woken by it never waits
	// for a message that is not there.
	fr = frameReader{r: bytes.NewReader(clientFrame(true, opPong, nil))}
	if msg, ok, err := fr.readMessage(maxFrameBytes, func(byte, []byte) {}); ok || err != nil || msg != nil {
		t.Fatalf("pong alone: %q %v %v", msg, ok, err)
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add(clientFrame(true, opText, []byte(`{"op":"ping"}`)))
	f.Add(cat(clientFrame(false, opText, []byte("a")), clientFrame(true, opContinuation, []byte("b"))))
	f.Add(clientFrame(true, opClose, nil))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := frameReader{r: bytes.NewReader(in)}
		for range 8 {
			msg, _, err := fr.readMessage(maxFrameBytes, func(op byte, payload []byte) {
				if len(payload) > 125 {
					t.Fatalf("control frame of %d bytes", len(payload))
				}
			})
			if err != nil {
				return
			}
			if len(msg) > maxFrameBytes {
				t.Fatalf("message of %d bytes", len(msg))
			}
		}
	})
}

func TestCloseFrameFits(t *testing.T) {
	for _, reason := range []string{"", "short", strings.Repeat("é", 100)} {
		f := closeFrame(closePolicy, reason)
		if len(f) > 2+125 || f[0] != 0x80|opClose {
			t.Fatalf("close frame of %d bytes", len(f))
		}
		if code := binary.BigEndian.Uint16(f[2:4]); code != closePolicy {
			t.Fatalf("code %d", code)
		}
		if !strings.HasPrefix(reason, string(f[4:])) || !utf8.Valid(f[4:]) {
			t.Fatalf("reason %q", f[4:])
		}
	}
}

// TestHandshakeChecks: a version other than 13 or a malformed key is
// refused before the upgrade, as RFC 6455 asks.
func TestHandshakeChecks(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	for _, tc := range []struct {
		version, key string
		want         int
	}{
		{"12", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusUpgradeRequired},
		{"13", "not base64!", http.StatusBadRequest},
		{"13", "c2hvcnQ=", http.StatusBadRequest}, // 5 bytes
	} {
		req, _ := http.NewRequest(http.MethodGet, n.http+"?token=acme/alice", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", tc.version)
		req.Header.Set("Sec-WebSocket-Key", tc.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("version %s key %q: %d %s, want %d", tc.version, tc.key, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
		}
		if tc.want == http.StatusUpgradeRequired && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Fatal("426 without the version the server speaks")
		}
	}
}

// TestBadFramesClose: a client breaking the framing rules is closed with
// the code that says why, and the server answers pings with pongs.
func TestBadFramesClose(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, _ := n.connect(t, "acme/alice", "")
	pong := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.WriteControl(fws.PingMessage, []byte("hello"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	go func() { _, _, _ = c.ReadMessage() }()
	select {
	case got := <-pong:
		if got != "hello" {
			t.Fatalf("pong %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no pong")
	}

	for _, tc := range []struct {
		name string
		send func(c *fws.Conn) error
		want int
	}{
		{"binary", func(c *fws.Conn) error { return c.WriteMessage(fws.BinaryMessage, []byte("x")) }, closeInvalidData},
		{"too big", func(c *fws.Conn) error {
			return c.WriteMessage(fws.TextMessage, bytes.Repeat([]byte("a"), maxFrameBytes+1))
		}, closeTooBig},
		{"not UTF-8", func(c *fws.Conn) error { return c.WriteMessage(fws.TextMessage, []byte{0xff}) }, closeInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := n.connect(t, "acme/bob", "")
			if err := tc.send(c); err != nil {
				t.Fatal(err)
			}
			if got := closeCode(t, c); got != tc.want {
				t.Fatalf("close %d, want %d", got, tc.want)
			}
		})
	}
	waitConnections(t, n.hub, 1)
}

// TestIdleSocketsHoldNoGoroutine: on Linux the poller reads every socket,
// so idle connections cost no goroutine; they still get their pushes and
// answer commands.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux-only")
	}
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	before := runtime.NumGoroutine()
	const conns = 200
	cs := make([]*fws.Conn, conns)
	for i := range cs {
		cs[i], _ = n.connect(t, fmt.Sprintf("acme/u%d", i), "")
	}
	time.Sleep(100 * time.Millisecond) // writers of the "subscribed" frames exit
	if grown := runtime.NumGoroutine() - before; grown > conns/20 {
		t.Fatalf("%d goroutines more for %d idle sockets", grown, conns)
	}
	for i, c := range cs[:20] {
		publishUser(t, n, "acme", fmt.Sprintf("u%d", i), i)
		if f := read(t, c); f.Type != "progress" {
			t.Fatalf("push %+v", f)
		}
		quiet(t, c)
	}
	for _, c := range cs {
		c.Close()
	}
	waitConnections(t, n.hub, 0)
}
