package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/redistest"
)

// TestPushesAfterRedisFlush: Redis loses every key (FLUSHALL, as a
// restart without persistence would); the channel's counter restarts in a
// new epoch, and the open socket is told of the gap and gets the next
// push at once instead of nothing until the new counter passes the old.
func TestPushesAfterRedisFlush(t *testing.T) {
	url := redistest.URL(t)
	s := startServer(t, map[string]string{"REDIS_URL": url})
	s.setupSlice("acme")
	ann := s.token("ann", "acme")
	ws := s.dial(ann, "")
	s.event(ann, "s1", map[string]any{"type": "share"})
	s.event(ann, "s2", map[string]any{"type": "share"})
	before := readFrames(t, ws, 2, "progress")

	flushRedis(t, url)
	s.event(ann, "s3", map[string]any{"type": "share"})
	got := readFrames(t, ws, 2, "resume-gap", "progress")
	if got[0].Type != "resume-gap" || got[1].Type != "progress" || got[1].Seq != 1 ||
		got[1].Epoch == "" || got[1].Epoch == before[1].Epoch {
		t.Fatalf("after FLUSHALL: %+v (before: %+v)", got, before)
	}
}

// TestWebSocketLimits: upgrades are rate-limited per user once the token
// is verified (browsers behind one proxy do not share one IP bucket), one
// user holds at most QL_WS_PER_USER sockets, and a socket closes with 4001
// when its token expires.
func TestWebSocketLimits(t *testing.T) {
	s := startServer(t, map[string]string{"QL_WS_PER_USER": "2"})
	for i := range 60 { // beyond the per-IP burst of 40
		s.dial(s.token(fmt.Sprintf("u%d", i), "acme"), "")
	}
	bob := s.token("bob", "acme")
	s.dial(bob, "")
	s.dial(bob, "")
	u := strings.Replace(s.base, "http://", "ws://", 1) + "/v1/ws?token=" + bob
	_, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third socket of one user: %v %+v", err, resp)
	}

	short, err := auth.Mint([]byte(testSecret), "cid", "acme", []auth.Role{auth.Player}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ws := s.dial(short, "")
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, 4001) {
				t.Fatalf("socket of an expiring token: %v, want close 4001", err)
			}
			return
		}
	}
}
