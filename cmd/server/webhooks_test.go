package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/webhooks"
)

// hookReceiver is a brand's webhook receiver: it verifies each request
// with the endpoint's secret and keeps the verified messages by
// webhook-id.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	down   bool
	got    map[string][]string // webhook-id -> event types received (one per request)
	bodies []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, got: map[string][]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err := webhooks.Verify(h.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			h.t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg struct{ Type string }
		json.Unmarshal(body, &msg)
		id := r.Header.Get(webhooks.HeaderID)
		h.got[id] = append(h.got[id], msg.Type)
		h.bodies = append(h.bodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// types returns how many requests of each event type arrived.
func (h *hookReceiver) types() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, ts := range h.got {
		for _, t := range ts {
			out[t]++
		}
	}
	return out
}

func (h *hookReceiver) wait(t *testing.T, what string, cond func(map[string]int) bool) {
	t.Helper()
	// Generous: on a loaded machine FerretDB (Mongo mode) takes seconds
	// per claim round after a restart.
	for deadline := time.Now().Add(30 * time.Second); !cond(h.types()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %v", what, h.types())
		}
	}
}

type hookDelivery struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Event    string `json:"event_type"`
	User     string `json:"user_id"`
	Payload  json.RawMessage
}

func (s *testServer) hookDeliveries(mgr, hook string) []hookDelivery {
	s.t.Helper()
	var out struct{ Deliveries []hookDelivery }
	s.must(200, req{method: "GET", path: "/v1/webhooks/" + hook + "/deliveries?limit=100", token: mgr}).json(s.t, &out)
	return out.Deliveries
}

// TestWebhooks: a manager registers an endpoint for a player event and a
// system event; both arrive signed, once; a delivery that failed while
// the receiver was down is retried after a restart; a replay resends
// with the same webhook-id; an erased user's delivery bodies are redacted.
func TestWebhooks(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_WEBHOOK_PRIVATE_TENANTS"] = "acme"
			s := startServer(t, env)
			mgr := s.token("boss", "acme", auth.Manager)
			alice := s.token("alice", "acme")
			rc := newHookReceiver(t)

			if r := s.do(req{method: "POST", path: "/v1/webhooks", token: s.token("boss", "globex", auth.Manager),
				body: map[string]any{"url": rc.srv.URL, "event_types": []string{"share"}}}); r.Status != 422 {
				t.Fatalf("http to loopback for a tenant without the allowance: %d %s", r.Status, r.Body)
			}
			if r := s.do(req{method: "POST", path: "/v1/webhooks", token: mgr,
				body: map[string]any{"url": rc.srv.URL, "event_types": []string{"no.such.type"}}}); r.Status != 422 {
				t.Fatalf("unknown event type: %d %s", r.Status, r.Body)
			}
			// A brand's own event type may be subscribed once the tenant defines it.
			own := map[string]any{"url": rc.srv.URL, "event_types": []string{"store_visit"}}
			if r := s.do(req{method: "POST", path: "/v1/webhooks", token: mgr, body: own}); r.Status != 422 {
				t.Fatalf("a type the tenant lacks: %d %s", r.Status, r.Body)
			}
			s.must(200, req{method: "PUT", path: "/v1/event-types", token: mgr, body: map[string]any{
				"version": 0, "types": []any{map[string]any{"name": "store_visit", "senders": "players"}}}})
			var ownHook struct{ ID string }
			s.must(201, req{method: "POST", path: "/v1/webhooks", token: mgr, body: own}).json(t, &ownHook)
			s.must(204, req{method: "DELETE", path: "/v1/webhooks/" + ownHook.ID, token: mgr})
			var hook struct {
				ID, Secret string
			}
			s.must(201, req{method: "POST", path: "/v1/webhooks", token: mgr,
				body: map[string]any{"url": rc.srv.URL, "event_types": []string{"share", "challenge.completed"}}}).json(t, &hook)
			if !strings.HasPrefix(hook.Secret, "whsec_") {
				t.Fatalf("secret %q", hook.Secret)
			}
			rc.secret = hook.Secret
			if r := s.must(200, req{method: "GET", path: "/v1/webhooks/" + hook.ID, token: mgr}); strings.Contains(string(r.Body), hook.Secret) {
				t.Fatal("GET shows the secret")
			}
			s.publish(mgr, map[string]any{"name": "Share once", "event_type": "share", "target": 1, "reward_points": 5})

			s.event(alice, "share-1", map[string]any{"type": "share"})
			s.event(alice, "share-1", map[string]any{"type": "share"}) // a retry
			rc.wait(t, "the share and the completion", func(m map[string]int) bool {
				return m["share"] == 1 && m["challenge.completed"] == 1
			})

			// Receiver down: the next delivery fails and waits for its retry.
			rc.mu.Lock()
			rc.down = true
			rc.mu.Unlock()
			s.event(alice, "share-2", map[string]any{"type": "share"})
			var failed hookDelivery
			for deadline := time.Now().Add(15 * time.Second); failed.Attempts == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no failed attempt recorded")
				}
				for _, d := range s.hookDeliveries(mgr, hook.ID) {
					if d.Status == "pending" && d.Attempts > 0 {
						failed = d
					}
				}
			}
			s.shutdown()
			rc.mu.Lock()
			rc.down = false
			rc.mu.Unlock()
			s.start()
			rc.wait(t, "the retried share after the restart", func(m map[string]int) bool { return m["share"] == 2 })

			s.must(200, req{method: "POST", path: "/v1/webhooks/" + hook.ID + "/deliveries/" + failed.ID + "/replay", token: mgr})
			rc.wait(t, "the replay", func(m map[string]int) bool { return m["share"] == 3 })
			rc.mu.Lock()
			again := len(rc.got[failed.ID])
			rc.mu.Unlock()
			if again != 2 {
				t.Fatalf("the replayed webhook-id arrived %d times, want 2", again)
			}
			if m := string(s.must(200, req{method: "GET", path: "/metrics"}).Body); !strings.Contains(m, `questline_webhook_attempts_total{outcome="delivered"}`) {
				t.Error("no delivery metric on /metrics")
			}
			if r := s.do(req{method: "POST", path: "/v1/webhooks/" + hook.ID + "/deliveries/" + failed.ID + "/replay",
				token: s.token("boss", "globex", auth.Manager)}); r.Status != 404 {
				t.Fatalf("another tenant's replay: %d", r.Status)
			}

			s.must(200, req{method: "POST", path: "/v1/users/alice/erase", token: s.token("root", "acme", auth.Admin)})
			for _, d := range s.hookDeliveries(mgr, hook.ID) {
				if d.User != "" || strings.Contains(string(d.Payload), "alice") {
					t.Fatalf("delivery %s still names alice after erasure: %+v", d.ID, d)
				}
			}
			s.must(204, req{method: "DELETE", path: "/v1/webhooks/" + hook.ID, token: mgr})
			s.must(404, req{method: "GET", path: "/v1/webhooks/" + hook.ID, token: mgr})
		})
	}
}
