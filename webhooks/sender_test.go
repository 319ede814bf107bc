package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/webhooks"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver is a webhook receiver that verifies every request and records
// the ids it got.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    map[string]int // webhook-id -> times received
	bodies map[string][]byte
	sigs   []string
	answer func(r *http.Request) int
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, got: map[string]int{}, bodies: map[string][]byte{}, answer: func(*http.Request) int { return 204 }}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	status := rc.answer(r)
	rc.mu.Lock()
	secret := rc.secret
	rc.mu.Unlock()
	// Timestamps come from the test clock, not the wall clock.
	if err := webhooks.Verify(secret, r.Header, body, time.Now(), 0); secret != "" && err != nil {
		rc.t.Errorf("receiver: %v", err)
	}
	rc.mu.Lock()
	if status < 300 {
		rc.got[r.Header.Get(webhooks.HeaderID)]++
		rc.bodies[r.Header.Get(webhooks.HeaderID)] = body
	}
	rc.sigs = append(rc.sigs, r.Header.Get(webhooks.HeaderSignature))
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) count() (distinct, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.got {
		total += n
	}
	return len(rc.got), total
}

// env is a webhook service over a real SQLite store.
type env struct {
	t     testing.TB
	path  string
	store *sqlite.Store
	svc   *webhooks.Service
	clock *clock
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, path: filepath.Join(t.TempDir(), "q.db"), clock: &clock{t: time.Now().UTC().Truncate(time.Millisecond)}}
	e.open()
	return e
}

func (e *env) open() {
	s, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = s
	e.t.Cleanup(func() { s.Close() })
	e.svc = webhooks.NewService(webhooks.Config{Store: s, Logger: slog.New(slog.DiscardHandler),
		AllowPrivate: func(string) bool { return true }})
	e.svc.SetClock(e.clock.now)
}

// run starts a sender until the test ends (or stop is called).
func (e *env) run(cfg webhooks.SenderConfig) (stop func()) {
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.NewSender(cfg).Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

func (e *env) endpoint(tenant, url string, types ...string) webhooks.Endpoint {
	ep, err := e.svc.Create(context.Background(), tenant, webhooks.Input{URL: url, EventTypes: types})
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

func (e *env) event(tenant, user, typ string) events.Event {
	ev := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, User: user, Type: typ,
		Props: map[string]any{"n": 1.0}, OccurredAt: e.clock.now(), Source: "player"}
	if _, err := e.svc.HandleEvent(context.Background(), ev, nil); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (e *env) deliveries(tenant, endpoint string) []webhooks.Delivery {
	ds, err := e.svc.Deliveries(context.Background(), tenant, endpoint, "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeliversOnceSigned: an event handled twice (a retry, the sweeper)
// is delivered once, signed, with the event as its body; other types
// and other tenants' events are not sent.
func TestDeliversOnceSigned(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep := e.endpoint("acme", rc.srv.URL, "share")
	e.endpoint("globex", rc.srv.URL, "share")
	rc.secret = ep.Secret
	ev := e.event("acme", "alice", "share")
	if _, err := e.svc.HandleEvent(context.Background(), ev, nil); err != nil {
		t.Fatal(err)
	}
	e.event("acme", "alice", "visit")
	e.run(webhooks.SenderConfig{})
	waitFor(t, "the delivery", func() bool { n, _ := rc.count(); return n == 1 })
	time.Sleep(50 * time.Millisecond)
	if n, total := rc.count(); n != 1 || total != 1 {
		t.Fatalf("received %d distinct, %d in all; want 1", n, total)
	}
	ds := e.deliveries("acme", ep.ID)
	if len(ds) != 1 || ds[0].EventID != ev.ID {
		t.Fatalf("log: %+v", ds)
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			EventID string `json:"event_id"`
			UserID  string `json:"user_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rc.bodies[ds[0].ID], &msg); err != nil || msg.Type != "share" || msg.Data.EventID != ev.ID || msg.Data.UserID != "alice" {
		t.Fatalf("body %s: %v", rc.bodies[ds[0].ID], err)
	}
	waitFor(t, "the delivered status", func() bool { return e.deliveries("acme", ep.ID)[0].Status == webhooks.Delivered })
}

// TestRetriesBackOffThenDisable: a failing receiver is retried on a
// growing schedule; once it has failed DisableFailures times over
// DisableAfter the endpoint is disabled with a reason, and its pending
// delivery fails.
func TestRetriesBackOffThenDisable(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.answer = func(*http.Request) int { return 503 }
	ep := e.endpoint("acme", rc.srv.URL, "share")
	e.event("acme", "alice", "share")
	e.run(webhooks.SenderConfig{DisableFailures: 4, DisableAfter: time.Minute})
	var waits []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		waitFor(t, fmt.Sprintf("attempt %d", attempt), func() bool {
			d := e.deliveries("acme", ep.ID)[0]
			return d.Attempts == attempt && d.Owner == ""
		})
		d := e.deliveries("acme", ep.ID)[0]
		if d.LastStatus != 503 || d.LastError != "HTTP 503" {
			t.Fatalf("attempt %d recorded %d %q", attempt, d.LastStatus, d.LastError)
		}
		waits = append(waits, d.NextAt.Sub(*d.LastAttemptAt))
		if attempt < 4 {
			e.clock.add(time.Minute) // past any of these waits
		}
	}
	for i, w := range waits {
		lo, hi := webhooks.Backoff(i+1, 0), webhooks.Backoff(i+1, 0.999999)
		if w < lo || w > hi {
			t.Errorf("wait after attempt %d = %v, want in [%v, %v]", i+1, w, lo, hi)
		}
	}
	waitFor(t, "the endpoint disabled", func() bool {
		got, _ := e.svc.Get(context.Background(), "acme", ep.ID)
		return got.Disabled
	})
	got, _ := e.svc.Get(context.Background(), "acme", ep.ID)
	if !strings.Contains(got.DisabledReason, "HTTP 503") || got.Failures != 4 {
		t.Fatalf("disabled: %+v", got)
	}
	// The delivery comes due again only now: the sender records an
	// attempt before it counts the failure that disables the endpoint, so
	// a delivery due at once could go out a fifth time in between (seen
	// under -race on a loaded machine) and then wait out its backoff on
	// this clock, which no longer moves.
	e.clock.add(time.Minute)
	waitFor(t, "the delivery failed", func() bool { return e.deliveries("acme", ep.ID)[0].Status == webhooks.Failed })
	if d := e.deliveries("acme", ep.ID)[0]; !strings.Contains(d.LastError, "endpoint disabled") {
		t.Fatalf("failed with %q", d.LastError)
	}
	// Disabled: new events are not queued; replay needs it enabled.
	e.event("acme", "alice", "share")
	if n := len(e.deliveries("acme", ep.ID)); n != 1 {
		t.Fatalf("%d deliveries queued for a disabled endpoint", n)
	}
	if _, err := e.svc.Replay(context.Background(), "acme", ep.ID, e.deliveries("acme", ep.ID)[0].ID); err == nil {
		t.Fatal("replay to a disabled endpoint accepted")
	}
}

func TestBackoffSchedule(t *testing.T) {
	total := time.Duration(0)
	n := 0
	for total < 24*time.Hour {
		n++
		d := webhooks.Backoff(n, 1)
		if n > 1 && d < webhooks.Backoff(n-1, 1) {
			t.Fatalf("attempt %d waits less than the one before", n)
		}
		total += d
	}
	if n < 15 || n > 30 || webhooks.Backoff(n, 1) > 2*time.Hour {
		t.Fatalf("%d attempts fill 24 h, the last waiting %v", n, webhooks.Backoff(n, 1))
	}
}

// TestGivesUpAfterWindow: a delivery still failing at its give-up time
// is failed, with the last error kept.
func TestGivesUpAfterWindow(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.answer = func(*http.Request) int { return 500 }
	ep := e.endpoint("acme", rc.srv.URL, "share")
	e.event("acme", "alice", "share")
	e.run(webhooks.SenderConfig{DisableFailures: 1000})
	for attempt := 1; ; attempt++ {
		waitFor(t, "an attempt", func() bool {
			d := e.deliveries("acme", ep.ID)[0]
			return d.Attempts == attempt && d.Owner == ""
		})
		d := e.deliveries("acme", ep.ID)[0]
		if d.Status == webhooks.Failed {
			if d.LastAttemptAt.Before(d.GiveUpAt) || attempt < 10 {
				t.Fatalf("gave up after %d attempts at %v, before %v", attempt, d.LastAttemptAt, d.GiveUpAt)
			}
			return
		}
		if d.NextAt.After(d.GiveUpAt) {
			t.Fatalf("next attempt %v after the give-up time %v", d.NextAt, d.GiveUpAt)
		}
		e.clock.add(d.NextAt.Sub(e.clock.now()) + time.Millisecond)
	}
}

// TestSlowReceiverDoesNotDelayOthers: while one endpoint hangs, another
// endpoint's deliveries all arrive.
func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	slow, fast := newReceiver(t), newReceiver(t)
	release := make(chan struct{})
	slow.answer = func(*http.Request) int { <-release; return 204 }
	defer close(release)
	slowEp := e.endpoint("acme", slow.srv.URL, "share")
	fastEp := e.endpoint("acme", fast.srv.URL, "share")
	fast.secret = fastEp.Secret
	const n = 100
	for range n {
		e.event("acme", "alice", "share")
	}
	e.run(webhooks.SenderConfig{Workers: 1, PerEndpoint: 4, Timeout: 30 * time.Second}) // Workers: the least allowed
	start := time.Now()
	waitFor(t, "the fast endpoint's deliveries", func() bool { got, _ := fast.count(); return got == n })
	t.Logf("fast endpoint: %d deliveries in %v while the slow one hangs", n, time.Since(start))
	if got, _ := slow.count(); got != 0 {
		t.Fatalf("slow endpoint answered %d", got)
	}
	_ = slowEp
}

// TestOneNodeSendsEach: two nodes' senders over one store never both
// send a delivery.
func TestOneNodeSendsEach(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep := e.endpoint("acme", rc.srv.URL, "share")
	rc.secret = ep.Secret
	other := webhooks.NewService(webhooks.Config{Store: e.store, Logger: slog.New(slog.DiscardHandler),
		AllowPrivate: func(string) bool { return true }})
	other.SetClock(e.clock.now)
	const n = 300
	for range n {
		e.event("acme", "alice", "share")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go other.NewSender(webhooks.SenderConfig{Poll: 5 * time.Millisecond}).Run(ctx)
	e.run(webhooks.SenderConfig{Poll: 5 * time.Millisecond})
	waitFor(t, "every delivery", func() bool { got, _ := rc.count(); return got == n })
	time.Sleep(100 * time.Millisecond)
	if got, total := rc.count(); got != n || total != n {
		t.Fatalf("%d distinct of %d sent %d times", got, n, total)
	}
}

// TestSurvivesRestart: deliveries queued before a crash, one of them
// leased by the node that died, are all sent after a restart.
func TestSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep := e.endpoint("acme", rc.srv.URL, "share")
	const n = 20
	for range n {
		e.event("acme", "alice", "share")
	}
	// The dead node leased some and never reported back.
	now := e.clock.now()
	leased, err := e.store.ClaimDeliveries(context.Background(), "dead-node", now, now.Add(2*time.Minute), 5, 5, nil)
	if err != nil || len(leased) != 5 {
		t.Fatalf("claimed %d: %v", len(leased), err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.run(webhooks.SenderConfig{})
	waitFor(t, "the unleased deliveries", func() bool { got, _ := rc.count(); return got == n-5 })
	e.clock.add(3 * time.Minute) // the dead node's lease runs out
	waitFor(t, "the leased ones too", func() bool { got, _ := rc.count(); return got == n })
	waitFor(t, "all delivered", func() bool {
		for _, d := range e.deliveries("acme", ep.ID) {
			if d.Status != webhooks.Delivered {
				return false
			}
		}
		return true
	})
}

// TestReplayAndRotation: a replay resends with the same webhook-id; after
// a rotation deliveries carry both signatures until the overlap ends.
func TestReplayAndRotation(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep := e.endpoint("acme", rc.srv.URL, "share")
	rc.secret = ep.Secret
	e.event("acme", "alice", "share")
	e.run(webhooks.SenderConfig{})
	waitFor(t, "the delivery", func() bool { _, total := rc.count(); return total == 1 })
	waitFor(t, "delivered", func() bool { return e.deliveries("acme", ep.ID)[0].Status == webhooks.Delivered })
	d := e.deliveries("acme", ep.ID)[0]

	rotated, err := e.svc.Rotate(context.Background(), "acme", ep.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == ep.Secret {
		t.Fatal("rotation kept the secret")
	}
	time.Sleep(endpointsTTL) // the sender's cached endpoint
	if _, err := e.svc.Replay(context.Background(), "acme", ep.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay", func() bool { _, total := rc.count(); return total == 2 })
	rc.mu.Lock()
	last := rc.sigs[len(rc.sigs)-1]
	got := rc.got[d.ID]
	rc.mu.Unlock()
	if got != 2 || len(strings.Fields(last)) != 2 {
		t.Fatalf("replay: id received %d times, signatures %q", got, last)
	}
	rc.mu.Lock()
	rc.secret = rotated.Secret // the receiver switched; the old one still verified above
	rc.mu.Unlock()
	e.clock.add(2 * time.Hour)
	e.event("acme", "alice", "share")
	waitFor(t, "a delivery after the overlap", func() bool { _, total := rc.count(); return total == 3 })
	rc.mu.Lock()
	last = rc.sigs[len(rc.sigs)-1]
	rc.mu.Unlock()
	if len(strings.Fields(last)) != 1 {
		t.Fatalf("after the overlap: %q", last)
	}
}

// endpointsTTL mirrors the service's endpoint cache lifetime.
const endpointsTTL = 2100 * time.Millisecond

// TestGuardRefusesPrivate: without the operator's allowance, an https
// endpoint whose name resolves to a loopback address is never connected
// to; the attempt fails with the guard's reason.
func TestGuardRefusesPrivate(t *testing.T) {
	e := newEnv(t)
	strict := webhooks.NewService(webhooks.Config{Store: e.store, Logger: slog.New(slog.DiscardHandler)})
	strict.SetClock(e.clock.now)
	if _, err := strict.Create(context.Background(), "acme", webhooks.Input{URL: "http://127.0.0.1:1/x", EventTypes: []string{"share"}}); err == nil {
		t.Fatal("plain http accepted for a tenant without the allowance")
	}
	ep, err := strict.Create(context.Background(), "acme", webhooks.Input{URL: "https://localhost:1/x", EventTypes: []string{"share"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: "u", Type: "share", OccurredAt: e.clock.now()}
	if _, err := strict.HandleEvent(context.Background(), ev, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go strict.NewSender(webhooks.SenderConfig{Poll: 10 * time.Millisecond}).Run(ctx)
	waitFor(t, "the refused attempt", func() bool {
		ds, _ := strict.Deliveries(context.Background(), "acme", ep.ID, "", 1)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _ := strict.Deliveries(context.Background(), "acme", ep.ID, "", 1)
	if !strings.Contains(ds[0].LastError, "non-public address") {
		t.Fatalf("last error %q", ds[0].LastError)
	}
}
