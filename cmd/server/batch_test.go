package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

type batchAnswer struct {
	Results []struct {
		Index   int          `json:"index"`
		Status  int          `json:"status"`
		Result  *eventResult `json:"result"`
		Problem *struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		} `json:"problem"`
	} `json:"results"`
}

func (b batchAnswer) statuses() []int {
	out := []int{}
	for _, r := range b.Results {
		out = append(out, r.Status)
	}
	return out
}

// TestEventsBatch: a batch is answered item by item (a bad item fails
// alone), a retry with the same keys replays and pays nothing twice,
// sizes are bounded, and a player's batch spends their event budget one
// event at a time.
func TestEventsBatch(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testEventsBatch(t, map[string]string{}, false) })
	if uri := os.Getenv("MONGO_URI"); uri != "" {
		t.Run("mongo", func(t *testing.T) {
			testEventsBatch(t, map[string]string{"MONGO_URI": uri, "QL_MONGO_DB": mongoDB(t)}, true)
		})
	}
}

func testEventsBatch(t *testing.T, env map[string]string, slow bool) {
	env["QL_EVENT_RATE"], env["QL_BODY_LIMIT"] = "1", "200000"
	s := startServer(t, env)
	s.setupSlice("acme")
	key := s.apiKey("acme")
	send := func(want int, events []any, hdr map[string]string) batchAnswer {
		t.Helper()
		var b batchAnswer
		resp := s.must(want, req{method: "POST", path: "/v1/events/batch", body: map[string]any{"events": events}, header: hdr, oversized: want == 413})
		if want == 200 {
			resp.json(t, &b)
		}
		return b
	}
	asKey := map[string]string{"X-API-Key": key}
	mixed := []any{
		map[string]any{"type": "share", "user_id": "alice", "idempotency_key": "s1"},
		map[string]any{"type": "no_such_type", "user_id": "alice", "idempotency_key": "x1"},
		map[string]any{"type": "share", "user_id": "alice", "idempotency_key": "s2"},
		map[string]any{"type": "share", "user_id": "bad user", "idempotency_key": "x2"},
		42,
		map[string]any{"type": "share", "user_id": "alice", "idempotency_key": "s3"},
	}
	first := send(200, mixed, asKey)
	if got, want := fmt.Sprint(first.statuses()), "[200 422 200 422 400 200]"; got != want {
		t.Fatalf("statuses %s, want %s: %+v", got, want, first)
	}
	if p := first.Results[1].Problem; p == nil || !strings.HasSuffix(p.Type, "/unknown-event-type") || p.Status != 422 {
		t.Fatalf("bad item's problem %+v", p)
	}
	if r := first.Results[5].Result; r == nil || len(r.Points) != 1 || r.Points[0].Amount != 50 {
		t.Fatalf("third share %+v, want it to pay 50", r)
	}
	again := send(200, mixed, asKey)
	for _, i := range []int{0, 2, 5} {
		if r := again.Results[i].Result; r == nil || !r.Replayed {
			t.Fatalf("retried item %d: %+v, want replayed", i, again.Results[i])
		}
	}
	alice := s.token("alice", "acme")
	if w := s.wallet(alice); w.Balance != 50 {
		t.Fatalf("wallet after a retried batch = %+v, want 50 once", w)
	}

	// 500 is the limit; above it 422, and a body over the limit 413.
	full := make([]any, 500)
	for i := range full {
		full[i] = map[string]any{"type": "share", "user_id": fmt.Sprint("u", i), "idempotency_key": fmt.Sprint("f", i)}
	}
	b := send(200, full, asKey)
	for i, r := range b.Results {
		// FerretDB, MongoDB's stand-in here, ingests some 15 events a
		// second on this machine: there the batch's tail runs out of the
		// request's time, and says so, safe to resend.
		if r.Index != i || (r.Status != 200 && !(slow && r.Status == 503 && strings.HasSuffix(r.Problem.Type, "/batch-timeout"))) {
			t.Fatalf("500 events: item %d = %+v", i, r)
		}
	}
	if len(b.Results) != 500 {
		t.Fatalf("500 events: %d results", len(b.Results))
	}
	send(422, append(full, full[0]), asKey)
	send(422, []any{}, asKey)
	big := make([]any, 300)
	for i := range big {
		big[i] = map[string]any{"type": "share", "user_id": "u1", "props": map[string]any{"note": strings.Repeat("x", 1000)}}
	}
	send(413, big, asKey)

	// A player batches their own client-allowed events; each counts
	// against their event budget (1/s, burst 2), whatever its outcome.
	var own []any
	for i := range 15 {
		own = append(own, map[string]any{"type": "share", "idempotency_key": fmt.Sprint("p", i)})
	}
	own[1] = map[string]any{"type": "purchase", "idempotency_key": "p-buy"}
	charged := time.Now() // the batch charges its events before it runs them
	st := send(200, own, map[string]string{"Authorization": "Bearer " + s.token("carol", "acme")}).statuses()
	if st[0] != 200 || st[1] != 403 || st[2] != 429 || st[14] != 429 {
		t.Fatalf("player batch statuses %v", st)
	}
	resp := s.do(req{method: "POST", path: "/v1/events", token: s.token("carol", "acme"), body: map[string]any{"type": "share"}})
	switch took := time.Since(charged); {
	case took < 900*time.Millisecond && resp.Status != 429:
		t.Fatalf("single event %s after a spent batch: %d, want 429 (one budget)", took, resp.Status)
	case took >= 900*time.Millisecond:
		// A slow store (FerretDB) ran the batch for longer than the
		// budget takes to refill one event: nothing to tell apart.
		t.Logf("the batch took %s; the budget refilled meanwhile", took)
	}

	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	s.must(200, req{method: "GET", path: "/openapi.json"}).json(t, &doc)
	if doc.Paths["/v1/events/batch"]["post"] == nil {
		t.Fatal("OpenAPI lacks POST /v1/events/batch")
	}
}
