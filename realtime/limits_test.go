package realtime

import (
	"net/http"
	"net/url"
	"testing"

	fws "github.com/fasthttp/websocket"
)

// TestUserConnectionCap: one user holds at most MaxUserConnections
// sockets on a node; one more is refused with 429 before the upgrade, and
// a closed one frees its slot.
func TestUserConnectionCap(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{MaxUserConnections: 2})
	first, _ := n.connect(t, "acme/alice", "")
	n.connect(t, "acme/alice", "")
	_, resp, err := fws.DefaultDialer.Dial(n.url+"?token="+url.QueryEscape("acme/alice"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third socket: err %v, response %+v", err, resp)
	}
	n.connect(t, "acme/bob", "")    // another user
	n.connect(t, "other/alice", "") // the same name in another tenant
	first.Close()
	waitConnections(t, n.hub, 3)
	n.connect(t, "acme/alice", "")
}

// TestTokenExpiryCloses: a socket is closed with 4001 when its token
// expires, so the client reconnects with a fresh one.
func TestTokenExpiryCloses(t *testing.T) {
	n := startNode(t, NewMemoryBroker(BrokerOptions{}), HubOptions{})
	c, _ := n.connect(t, "acme/alice//300ms", "")
	if code := closeCode(t, c); code != closeTokenExpired {
		t.Fatalf("closed with %d, want %d", code, closeTokenExpired)
	}
	waitConnections(t, n.hub, 0)
	// A token still valid keeps its socket.
	long, _ := n.connect(t, "acme/alice//1h", "")
	quiet(t, long)
}
